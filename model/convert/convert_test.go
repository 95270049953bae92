package convert

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"novae/model"
	"novae/model/pt"
	"novae/model/weights"
)

const testdata = "../testdata/"

var (
	ditPT   = testdata + "dit_tiny.pt"
	aeCkpt  = testdata + "ae_tiny.ckpt"
	statsPT = testdata + "stats_tiny.pt"
)

func tinyOptions(t *testing.T, out string) Options {
	t.Helper()
	base := TinyConfig()
	return Options{DiT: ditPT, AE: aeCkpt, Stats: statsPT, Base: &base, BaseName: "preset tiny",
		Output: Output{Path: out}}
}

func load(t *testing.T, path string) map[string]*pt.Tensor {
	t.Helper()
	m, err := ReadTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func open(t *testing.T, path string) *weights.File {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// expected returns what a converted file must hold, key → values, straight
// from the fixtures: DiT "ema" under dit., the autoencoder's state dict
// without loss.*, mask_token, norm_vit.*, encoder.mask_token and bias_mask,
// with the bias_mask multiplied into the qkv bias, and the statistics cut
// to the DiT's 72 channels.
func expected(t *testing.T) map[string]*pt.Tensor {
	t.Helper()
	want := map[string]*pt.Tensor{}
	for k, v := range load(t, ditPT) {
		k, ok := strings.CutPrefix(k, "ema.")
		if !ok {
			t.Fatalf("dit fixture key %q not under ema", k)
		}
		want["dit."+k] = v
	}
	ae := load(t, aeCkpt)
	masks := 0
	for k, v := range ae {
		k, ok := strings.CutPrefix(k, "state_dict.")
		if !ok || strings.HasPrefix(k, "loss.") || k == "mask_token" || strings.HasPrefix(k, "norm_vit.") ||
			k == "encoder.mask_token" || strings.HasSuffix(k, ".bias_mask") {
			continue
		}
		if strings.HasSuffix(k, "attn.qkv.bias") && strings.HasPrefix(k, "encoder.") {
			mask := ae["state_dict."+k+"_mask"]
			if mask == nil {
				t.Fatalf("no bias_mask for %s", k)
			}
			b := &pt.Tensor{Shape: v.Shape, Data: make([]float32, len(v.Data))}
			for i := range b.Data {
				b.Data[i] = v.Data[i] * mask.Data[i]
			}
			v = b
			masks++
		}
		want[k] = v
	}
	if masks != 2 {
		t.Fatalf("%d bias masks in the fixture, want 2", masks)
	}
	st := load(t, statsPT)
	want["latent.mean"] = &pt.Tensor{Shape: []int{72}, Data: st["dinov3_sp_mean"].Data[:72]}
	want["latent.std"] = &pt.Tensor{Shape: []int{72}, Data: st["dinov3_sp_std"].Data[:72]}
	return want
}

// compareExact checks that f holds exactly want (same key set, values equal
// bit for bit, shapes equal up to singleton dimensions).
func compareExact(t *testing.T, f tensorFile, want map[string]*pt.Tensor) {
	t.Helper()
	names := f.Names()
	if got, w := len(names), len(want); got != w {
		t.Errorf("%d tensors, want %d", got, w)
	}
	for _, k := range names {
		w, ok := want[k]
		if !ok {
			t.Errorf("unexpected tensor %s", k)
			continue
		}
		info, _ := f.Info(k)
		if info.DType != weights.F32 || !sameShape(info.Shape, w.Shape) {
			t.Errorf("%s: %s %v, want F32 %v", k, info.DType, info.Shape, w.Shape)
			continue
		}
		v, err := f.F32(k)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(w.Data[i]) {
				t.Errorf("%s[%d] = %g, want %g", k, i, v[i], w.Data[i])
				break
			}
		}
	}
}

func TestConvertFixtures(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tiny.safetensors")
	o := tinyOptions(t, out)
	var log strings.Builder
	o.Log = &log
	if err := Convert(o); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Log("\n" + log.String())
	for _, s := range []string{"loss.* (1 tensors)", "mask_token [1 8 1]", "norm_vit.weight [40]",
		"dropped encoder.mask_token", "baked 2 DINOv3 attn.qkv.bias_mask"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("the log does not report %q", s)
		}
	}
	f := open(t, out)
	want := expected(t)
	compareExact(t, f, want)
	for _, k := range []string{"encoder.blocks.0.attn.qkv.bias", "encoder.blocks.1.attn.qkv.bias"} {
		v, _ := f.F32(k)
		for i := 64; i < 128; i++ { // the K third is masked
			if v[i] != 0 {
				t.Errorf("%s[%d] = %g: K bias not masked", k, i, v[i])
				break
			}
		}
		if slices.Equal(v[:64], make([]float32, 64)) {
			t.Errorf("%s: Q bias all zero", k)
		}
	}

	meta := f.Metadata()
	if meta["format"] != "novae" {
		t.Errorf("format %q", meta["format"])
	}
	var src map[string]string
	if err := json.Unmarshal([]byte(meta["sources"]), &src); err != nil || src["dit"] != "dit_tiny.pt" || src["ae"] != "ae_tiny.ckpt" || src["stats"] != "stats_tiny.pt" {
		t.Errorf("sources %q (%v)", meta["sources"], err)
	}
	cfg, err := CheckFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, TinyConfig()) {
		t.Errorf("config\n%+v\nwant\n%+v", cfg, TinyConfig())
	}
	if err := model.Check(model.FileSource{F: f}, "", ParamsFor(cfg)); err != nil {
		t.Error(err)
	}
	checkAgainstFixtureMeta(t, cfg)
}

// checkAgainstFixtureMeta compares a config with the module configs in the
// fixtures' metadata (tools/reference/make_fixtures.py).
func checkAgainstFixtureMeta(t *testing.T, c model.Config) {
	t.Helper()
	var dit struct {
		Depth      int     `json:"depth"`
		Hidden     int     `json:"hidden_size"`
		In         int     `json:"in_channels"`
		LearnSigma bool    `json:"learn_sigma"`
		MLPRatio   float64 `json:"mlp_ratio"`
		Classes    int     `json:"num_classes"`
		Heads      int     `json:"num_heads"`
		Patches    int     `json:"num_patches"`
		QKNorm     bool    `json:"qk_norm"`
	}
	var ae struct {
		Decoder struct {
			AttnRes    []int `json:"attn_resolutions"`
			Ch         int   `json:"ch"`
			ChMult     []int `json:"ch_mult"`
			NumRes     int   `json:"num_res_blocks"`
			OutCh      int   `json:"out_ch"`
			Resolution int   `json:"resolution"`
			Z          int   `json:"z_channels"`
		} `json:"decoder"`
		Dino struct {
			Depth    int     `json:"depth"`
			Embed    int     `json:"embed_dim"`
			FFNRatio float64 `json:"ffn_ratio"`
			Heads    int     `json:"num_heads"`
			Patch    int     `json:"patch_size"`
			Storage  int     `json:"n_storage_tokens"`
		} `json:"dino"`
		ViT struct {
			Hidden int `json:"hidden_dim"`
			Image  int `json:"image_size"`
			MLP    int `json:"mlp_dim"`
			Heads  int `json:"num_heads"`
			Layers int `json:"num_layers"`
			Out    int `json:"output_dim"`
			Patch  int `json:"patch_size"`
		} `json:"residual_vit"`
	}
	for name, dst := range map[string]any{"dit_tiny_io.safetensors": &dit, "ae_tiny_io.safetensors": &ae} {
		f := open(t, testdata+name)
		if err := json.Unmarshal([]byte(f.Metadata()["config"]), dst); err != nil {
			t.Fatal(err)
		}
	}
	d := c.DiT
	if d.Depth != dit.Depth || d.Hidden != dit.Hidden || d.InChannels != dit.In || d.LearnSigma != dit.LearnSigma ||
		d.MLPRatio != dit.MLPRatio || d.NumClasses != dit.Classes || d.Heads != dit.Heads || d.Grid*d.Grid != dit.Patches || d.QKNorm != dit.QKNorm {
		t.Errorf("DiT config %+v, fixture %+v", d, dit)
	}
	dc, fd := c.Decoder, ae.Decoder
	mult := make([]int, len(dc.ChMult))
	for i, m := range dc.ChMult {
		mult[i] = m * dc.Ch / fd.Ch
	}
	if !slices.Equal(dc.AttnRes, fd.AttnRes) || !slices.Equal(mult, fd.ChMult) || dc.NumResBlocks != fd.NumRes ||
		dc.OutCh != fd.OutCh || dc.Resolution != fd.Resolution || dc.ZChannels != fd.Z {
		t.Errorf("decoder config %+v, fixture %+v", dc, fd)
	}
	e, fe := c.Dino, ae.Dino
	// SwiGLU hidden = int(dim·ffn_ratio·2/3), rounded up to a multiple of 8.
	ffn := (int(float64(fe.Embed)*fe.FFNRatio*2/3) + 7) / 8 * 8
	if e == nil || e.Depth != fe.Depth || e.Dim != fe.Embed || e.FFN != ffn || e.Heads != fe.Heads || e.Patch != fe.Patch || e.Registers != fe.Storage {
		t.Errorf("DINOv3 config %+v, fixture %+v", e, fe)
	}
	r, fr := c.Residual, ae.ViT
	if r == nil || r.Dim != fr.Hidden || r.Image != fr.Image || r.MLP != fr.MLP || r.Heads != fr.Heads || r.Depth != fr.Layers || r.OutDim != fr.Out || r.Patch != fr.Patch {
		t.Errorf("residual config %+v, fixture %+v", r, fr)
	}
}

// Without a preset, only the residual ViT's heads are needed.
func TestConvertInferNoPreset(t *testing.T) {
	o := Options{DiT: ditPT, AE: aeCkpt, Stats: statsPT}
	_, err := Assemble(o)
	if err == nil || !strings.Contains(err.Error(), "residual ViT's head count") {
		t.Fatalf("got %v, want the residual heads error", err)
	}
	o.Override = Overrides{ResidualHeads: 2, Name: "tiny"}
	a, err := Assemble(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Config, TinyConfig()) {
		t.Errorf("config\n%+v\nwant\n%+v", a.Config, TinyConfig())
	}
	// A preset that disagrees with the shapes: the shapes win, with notes.
	xl := model.SVGXLConfig()
	o = Options{DiT: ditPT, AE: aeCkpt, Stats: statsPT, Base: &xl, BaseName: "preset svg-xl", Override: Overrides{ResidualHeads: 2}}
	a, err = Assemble(o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Config.DiT != TinyConfig().DiT {
		t.Errorf("DiT %+v", a.Config.DiT)
	}
	if !slices.ContainsFunc(a.Notes, func(n string) bool {
		return strings.Contains(n, "dit depth: the checkpoint has 2, preset svg-xl says 28")
	}) {
		t.Errorf("no note on the depth: %q", a.Notes)
	}
}

func TestConvertSharded(t *testing.T) {
	dir := t.TempDir()
	o := tinyOptions(t, filepath.Join(dir, "tiny"))
	o.Output.Shard, o.Output.ShardBytes = true, 512<<10
	if err := Convert(o); err != nil {
		t.Fatal(err)
	}
	f := open(t, filepath.Join(dir, "tiny.json"))
	if err := f.Verify(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "tiny.json"))
	m, err := weights.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shards) < 4 {
		t.Errorf("%d shards of ≤ 512 KiB for 2.4 MiB", len(m.Shards))
	}
	for _, s := range m.Shards {
		if s.Bytes > 512<<10 {
			t.Errorf("shard %s is %d bytes", s.File, s.Bytes)
		}
	}
	compareExact(t, f, expected(t))
	if _, err := CheckFile(f); err != nil {
		t.Error(err)
	}
}

// writeST writes tensors (as F32) to a safetensors file.
func writeST(t *testing.T, path string, m map[string]*pt.Tensor) {
	t.Helper()
	var ts []weights.Tensor
	for k, v := range m {
		ts = append(ts, weights.F32Tensor(k, v.Shape, v.Data))
	}
	if err := weights.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// Inputs may be safetensors; a DINOv3 file alone provides encoder.*.
func TestConvertSafetensorsInputsAndDino(t *testing.T) {
	dir := t.TempDir()
	dit := load(t, ditPT) // keys under "ema."
	writeST(t, filepath.Join(dir, "dit.safetensors"), dit)
	ae := load(t, aeCkpt)
	dino := map[string]*pt.Tensor{}
	for k, v := range ae {
		if rest, ok := strings.CutPrefix(k, "state_dict.encoder."); ok {
			dino[rest] = v
		}
	}
	writeST(t, filepath.Join(dir, "dino.safetensors"), dino)
	o := tinyOptions(t, filepath.Join(dir, "out.safetensors"))
	o.DiT = filepath.Join(dir, "dit.safetensors")
	o.Dino = filepath.Join(dir, "dino.safetensors")
	var log strings.Builder
	o.Log = &log
	if err := Convert(o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "replaces the autoencoder's 42 encoder.* tensors (0 differ)") {
		t.Errorf("log:\n%s", log.String())
	}
	compareExact(t, open(t, o.Output.Path), expected(t))
}

func TestConvertNoEncoders(t *testing.T) {
	dir := t.TempDir()
	o := tinyOptions(t, filepath.Join(dir, "gen.safetensors"))
	o.NoEncoders = true
	if err := Convert(o); err != nil {
		t.Fatal(err)
	}
	f := open(t, o.Output.Path)
	want := expected(t)
	for k := range want {
		if strings.HasPrefix(k, "encoder.") || strings.HasPrefix(k, "extra_vit.") {
			delete(want, k)
		}
	}
	compareExact(t, f, want)
	cfg, err := CheckFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dino != nil || cfg.Residual != nil {
		t.Errorf("config keeps the encoders: %+v", cfg)
	}
}

// Broken inputs: every error names the key, and nothing is written.
func TestConvertMismatch(t *testing.T) {
	dir := t.TempDir()
	edit := func(path string, f func(m map[string]*pt.Tensor)) string {
		m := load(t, path)
		f(m)
		p := filepath.Join(dir, filepath.Base(path)+".safetensors")
		writeST(t, p, m)
		return p
	}
	cases := []struct {
		name     string
		dit, ae  func(m map[string]*pt.Tensor)
		want     []string
		notWrite bool
	}{
		{name: "missing DiT key", dit: func(m map[string]*pt.Tensor) { delete(m, "ema.blocks.1.mlp.fc2.bias") },
			want: []string{"missing (1):", "dit.blocks.1.mlp.fc2.bias [64]"}},
		{name: "missing input Linear", dit: func(m map[string]*pt.Tensor) { delete(m, "ema.ln1.weight") },
			want: []string{"missing (1):", "dit.ln1.weight [64 72]"}},
		{name: "mis-shaped DiT key", dit: func(m map[string]*pt.Tensor) {
			m["ema.blocks.0.attn.proj.weight"] = &pt.Tensor{Shape: []int{64, 32}, Data: make([]float32, 64*32)}
		}, want: []string{"wrong shape (1):", "dit.blocks.0.attn.proj.weight: have [64 32], config wants [64 64]"}},
		{name: "extra DiT key", dit: func(m map[string]*pt.Tensor) {
			m["ema.blocks.0.attn.extra"] = &pt.Tensor{Shape: []int{3}, Data: make([]float32, 3)}
		}, want: []string{"unexpected (1):", "dit.blocks.0.attn.extra [3]"}},
		{name: "missing decoder key", ae: func(m map[string]*pt.Tensor) { delete(m, "state_dict.decoder.up.0.block.1.conv2.bias") },
			want: []string{"missing (1):", "decoder.up.0.block.1.conv2.bias [64]"}},
		{name: "mis-shaped DINOv3 key", ae: func(m map[string]*pt.Tensor) {
			m["state_dict.encoder.blocks.1.ls2.gamma"] = &pt.Tensor{Shape: []int{63}, Data: make([]float32, 63)}
		}, want: []string{"encoder.blocks.1.ls2.gamma: have [63], config wants [64]"}},
		{name: "unknown autoencoder key", ae: func(m map[string]*pt.Tensor) {
			m["state_dict.quant_conv.weight"] = &pt.Tensor{Shape: []int{2, 2}, Data: make([]float32, 4)}
			m["state_dict.extra_vit.heads.3.bias"] = &pt.Tensor{Shape: []int{8}, Data: make([]float32, 8)}
		}, want: []string{"unexpected (2):", "extra_vit.heads.3.bias [8]", "quant_conv.weight [2 2]"}},
		{name: "two problems at once", dit: func(m map[string]*pt.Tensor) {
			delete(m, "ema.final_layer.linear.bias")
			m["ema.y_embedder.embedding_table.weight"] = &pt.Tensor{Shape: []int{11, 60}, Data: make([]float32, 660)}
		}, want: []string{"missing (1):", "dit.final_layer.linear.bias [144]", "wrong shape (1):", "dit.y_embedder.embedding_table.weight: have [11 60], config wants [11 64]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions(t, filepath.Join(dir, "out.safetensors"))
			if c.dit != nil {
				o.DiT = edit(ditPT, c.dit)
			}
			if c.ae != nil {
				o.AE = edit(aeCkpt, c.ae)
			}
			err := Convert(o)
			if err == nil {
				t.Fatal("no error")
			}
			var mm *Mismatch
			if !errors.As(err, &mm) {
				t.Errorf("error is %T, want *Mismatch: %v", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if _, serr := os.Stat(o.Output.Path); serr == nil {
				t.Errorf("an output was written")
			}
		})
	}
}

func TestConvertBadInputs(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pt")
	os.WriteFile(junk, []byte("this is not a checkpoint at all"), 0o644)
	shortStats := filepath.Join(dir, "stats.safetensors")
	writeST(t, shortStats, map[string]*pt.Tensor{
		"dinov3_sp_mean": {Shape: []int{1, 1, 8}, Data: make([]float32, 8)},
		"dinov3_sp_std":  {Shape: []int{1, 1, 8}, Data: make([]float32, 8)},
	})
	zeroStd := filepath.Join(dir, "stats0.safetensors")
	std := make([]float32, 72)
	for i := range std {
		std[i] = 1
	}
	std[5] = 0
	writeST(t, zeroStd, map[string]*pt.Tensor{
		"dinov3_sp_mean": {Shape: []int{1, 1, 72}, Data: make([]float32, 72)},
		"dinov3_sp_std":  {Shape: []int{1, 1, 72}, Data: std},
	})
	for _, c := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"no DiT", func(o *Options) { o.DiT = "" }, "needs the DiT checkpoint"},
		{"junk DiT", func(o *Options) { o.DiT = junk }, "neither a PyTorch zip checkpoint nor a safetensors file"},
		{"missing file", func(o *Options) { o.AE = filepath.Join(dir, "nope.ckpt") }, "no such file"},
		{"DiT as autoencoder", func(o *Options) { o.AE = ditPT }, "decoder"},
		{"short stats", func(o *Options) { o.Stats = shortStats }, "has 8 channels, the DiT takes 72"},
		{"zero std", func(o *Options) { o.Stats = zeroStd }, "std[5] = 0"},
		{"bad quant", func(o *Options) { o.Quant = Quant{Kind: "int3"} }, "unknown quantization"},
		{"f16 group", func(o *Options) { o.Quant = Quant{Kind: "f16", Group: 32} }, "f16 takes no group"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions(t, filepath.Join(dir, "out.safetensors"))
			c.edit(&o)
			err := Convert(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// Quantized output: the Linear weights dequantize within the convention's
// bounds (half a step of their block's scale; f16 rounding), everything else
// is exact F32.
func TestConvertQuantized(t *testing.T) {
	dir := t.TempDir()
	want := expected(t)
	linear := map[string]bool{}
	for _, p := range ParamsFor(TinyConfig()) {
		if p.Linear {
			linear[p.Name] = true
		}
	}
	if len(linear) != 35 {
		t.Fatalf("%d Linear weights in the tiny model, want 35", len(linear))
	}
	for _, q := range []Quant{{Kind: "f16"}, {Kind: "int8"}, {Kind: "int8", Group: 32}, {Kind: "int4", Group: 32}, {Kind: "int4", Group: 16}} {
		t.Run(q.String(), func(t *testing.T) {
			o := tinyOptions(t, filepath.Join(dir, "q.safetensors"))
			o.Quant = q
			if err := Convert(o); err != nil {
				t.Fatal(err)
			}
			f := open(t, o.Output.Path)
			if _, err := CheckFile(f); err != nil {
				t.Fatal(err)
			}
			entries, err := weights.ParseQuant(f.Metadata())
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(linear) {
				t.Errorf("%d quantized tensors, want the %d Linear weights", len(entries), len(linear))
			}
			for k, w := range want {
				info, ok := f.Info(k)
				if !ok {
					t.Errorf("missing %s", k)
					continue
				}
				got, err := f.F32(k)
				if err != nil {
					t.Fatal(err)
				}
				if !linear[k] {
					if info.Quant != nil || info.DType != weights.F32 || !slices.Equal(got, w.Data) {
						t.Errorf("%s: not exact F32 (%s, quant %v)", k, info.DType, info.Quant)
					}
					continue
				}
				e := info.Quant
				if e == nil || e.Kind != q.Kind || !slices.Equal(e.Shape, w.Shape) {
					t.Errorf("%s: quant entry %+v", k, e)
					continue
				}
				in := w.Shape[1]
				if q.Kind != "f16" {
					g, ok := e.Group, true
					switch {
					case q.Group == 0:
						ok = g == 0
					case in%q.Group == 0:
						ok = g == q.Group
					default: // the largest divisor below the asked group
						ok = g > 0 && g < q.Group && in%g == 0
					}
					if !ok {
						t.Errorf("%s: group %d for in %d (asked %d)", k, g, in, q.Group)
					}
				}
				checkDequant(t, k, q.Kind, e.Group, in, w.Data, got)
			}
		})
	}
}

func checkDequant(t *testing.T, name, kind string, group, in int, w, got []float32) {
	t.Helper()
	if kind == "f16" {
		for i := range w {
			if d := math.Abs(float64(w[i] - got[i])); d > math.Abs(float64(w[i]))/2048+1.0/(1<<25) {
				t.Errorf("%s[%d]: f16 %g for %g", name, i, got[i], w[i])
				return
			}
		}
		return
	}
	qmax := map[string]float64{"int8": 127, "int4": 7}[kind]
	g := group
	if g == 0 {
		g = in
	}
	for b := 0; b < len(w); b += g {
		m := 0.0
		for _, x := range w[b : b+g] {
			m = math.Max(m, math.Abs(float64(x)))
		}
		scale := m / qmax
		for i := b; i < b+g; i++ {
			if d := math.Abs(float64(w[i] - got[i])); d > scale/2*(1+1e-5)+1e-12 {
				t.Errorf("%s[%d]: %s %g for %g, error %g > half step %g", name, i, kind, got[i], w[i], d, scale/2)
				return
			}
		}
	}
}

// TestConvertDiTWrappers: the DiT state dict saved by torch at the top level
// (an OrderedDict at the pickle root), under "model", and with
// nn.DataParallel's "module." prefix (tools/reference/make_extra_fixtures.py)
// converts to exactly the tensors of its safetensors copy, and the log says
// which wrapper was taken off.
func TestConvertDiTWrappers(t *testing.T) {
	ref := open(t, testdata+"dit_wrap.safetensors")
	want := map[string]*pt.Tensor{}
	for _, k := range ref.Names() {
		info, _ := ref.Info(k)
		v, err := ref.F32(k)
		if err != nil {
			t.Fatal(err)
		}
		want["dit."+k] = &pt.Tensor{Shape: info.Shape, Data: v}
	}
	for _, c := range []struct{ file, note, not string }{
		{"dit_wrap_top.pt", "", `DiT: using`},
		{"dit_wrap_model.pt", `DiT: using "model" from dit_wrap_model.pt`, "module."},
		{"dit_wrap_module.pt", `DiT: stripped the DataParallel prefix "module."`, `DiT: using`},
	} {
		t.Run(c.file, func(t *testing.T) {
			o := tinyOptions(t, filepath.Join(t.TempDir(), "out.safetensors"))
			o.DiT, o.NoEncoders = testdata+c.file, true
			var log strings.Builder
			o.Log = &log
			if err := Convert(o); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if !strings.Contains(log.String(), c.note) || strings.Contains(log.String(), c.not) {
				t.Errorf("log: want %q, not %q:\n%s", c.note, c.not, log.String())
			}
			f := open(t, o.Output.Path)
			compareExact(t, prefixed{f, model.PrefixDiT}, want)
			cfg, err := CheckFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if d := cfg.DiT; d.Hidden != 8 || d.Depth != 1 || d.Heads != 2 || d.InChannels != 72 || d.Grid != 4 {
				t.Errorf("DiT config %+v, want hidden 8, depth 1, 2 heads, 72 channels, grid 4", d)
			}
		})
	}
}

// tensorFile is what compareExact reads: a *weights.File or a view of one.
type tensorFile interface {
	Names() []string
	Info(name string) (weights.Info, bool)
	F32(name string) ([]float32, error)
}

// prefixed shows only the tensors of a file whose names start with prefix.
type prefixed struct {
	*weights.File
	prefix string
}

func (p prefixed) Names() []string {
	var out []string
	for _, n := range p.File.Names() {
		if strings.HasPrefix(n, p.prefix) {
			out = append(out, n)
		}
	}
	return out
}
