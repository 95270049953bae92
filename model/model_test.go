package model_test

// Whole-network parity against PyTorch. The fixtures in testdata/ come from
// the official-structure twins in tools/reference (seeded, random weights):
//
//	/usr/bin/python3 tools/reference/make_fixtures.py
//
// Every test runs on both backends: the WebGPU engine and the pure-Go
// reference. Tolerance for a whole network in f32: 1e-3 relative to the
// output's scale (max |ref|), the bound novae uses for whole networks.

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"novae/model"
	"novae/model/pt"
	"novae/model/weights"
	"novae/shaders"
)

var gpu *model.GPU

func TestMain(m *testing.M) {
	e, err := shaders.New(shaders.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: no WebGPU device:", err)
		os.Exit(1)
	}
	gpu = model.NewGPU(e)
	os.Exit(m.Run())
}

func backends() []model.Backend { return []model.Backend{model.CPU{}, gpu} }

// fixture reads a tensor of a testdata safetensors file.
type fixture struct{ f *weights.File }

// The fixtures are embedded so the same tests run compiled to wasm in the
// browser, where there is no file system.
//
//go:embed testdata/*.safetensors testdata/*.pt testdata/*.ckpt
var testdata embed.FS

func fixtureBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openFixture(t *testing.T, name string) fixture {
	t.Helper()
	b := fixtureBytes(t, name)
	f, err := weights.NewFile(bytes.NewReader(b), int64(len(b)), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fixture{f}
}

func (f fixture) get(t *testing.T, name string) []float32 {
	t.Helper()
	v, err := f.f.F32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f fixture) config(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(f.f.Metadata()["config"]), v); err != nil {
		t.Fatal(err)
	}
}

// checkpoint reads a PyTorch checkpoint into a MapSource, unwrapping prefix.
func checkpoint(t *testing.T, path string, prefixes ...string) model.MapSource {
	t.Helper()
	b := fixtureBytes(t, path)
	ck, err := pt.ReadFrom(bytes.NewReader(b), int64(len(b)), path)
	if err != nil {
		t.Fatal(err)
	}
	m := ck.Tensors
	if len(prefixes) > 0 {
		m = pt.Unwrap(m, prefixes...)
	}
	src := model.MapSource{}
	for k, v := range m {
		src[k] = model.MapTensor{Shape: v.Shape, Data: v.Data}
	}
	return src
}

// near compares with |got−want| ≤ tol·max|want| and reports the error.
func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale, worst float64
	wi := 0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) || d > worst {
			worst, wi = d, i
			if math.IsNaN(d) {
				worst = math.Inf(1)
			}
		}
	}
	rel := worst / math.Max(scale, 1e-30)
	if rel > tol {
		t.Errorf("%s: max error %.3g (%.3g of scale %.3g) at [%d]: got %g want %g; first: %v vs %v",
			what, worst, rel, scale, wi, got[wi], want[wi], got[:min(4, len(got))], want[:min(4, len(want))])
		return
	}
	t.Logf("%s: OK, max error %.3g relative to scale %.3g", what, rel, scale)
}

type ditFixtureConfig struct {
	Depth      int     `json:"depth"`
	Hidden     int     `json:"hidden_size"`
	InChannels int     `json:"in_channels"`
	LearnSigma bool    `json:"learn_sigma"`
	MLPRatio   float64 `json:"mlp_ratio"`
	NumClasses int     `json:"num_classes"`
	Heads      int     `json:"num_heads"`
	Patches    int     `json:"num_patches"`
	QKNorm     bool    `json:"qk_norm"`
}

func (c ditFixtureConfig) cfg() model.DiTConfig {
	g := int(math.Sqrt(float64(c.Patches)))
	return model.DiTConfig{InChannels: c.InChannels, Grid: g, Hidden: c.Hidden, Depth: c.Depth, Heads: c.Heads,
		MLPRatio: c.MLPRatio, NumClasses: c.NumClasses, QKNorm: c.QKNorm, LearnSigma: c.LearnSigma}
}

func ints(v []float32) []int {
	o := make([]int, len(v))
	for i, x := range v {
		o[i] = int(x)
	}
	return o
}

// TestDiTParity: DiT forward (t, y, x) against the official-structure twin.
func TestDiTParity(t *testing.T) {
	io := openFixture(t, "dit_tiny_io.safetensors")
	var fc ditFixtureConfig
	io.config(t, &fc)
	cfg := fc.cfg()
	src := checkpoint(t, "dit_tiny.pt", "ema.")
	x, tt, y, out := io.get(t, "x"), io.get(t, "t"), ints(io.get(t, "y")), io.get(t, "out")
	B, T, C := 2, cfg.Grid*cfg.Grid, cfg.InChannels
	want := make([]float32, 0, B*T*C) // the velocity half of learn_sigma's output
	for r := range B * T {
		want = append(want, out[r*2*C:r*2*C+C]...)
	}
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			m, err := model.LoadDiT(b, src, "", cfg)
			if err != nil {
				t.Fatal(err)
			}
			cond, err := m.Condition(b, tt, y)
			if err != nil {
				t.Fatal(err)
			}
			xt := b.Upload(x, B, T, C)
			o := b.Alloc(B, T, C)
			m.Forward(b, o, xt, cond)
			got, err := b.Read(o)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "dit out", got, want, 1e-3)
		})
	}
}

type aeFixtureConfig struct {
	Decoder struct {
		AttnRes    []int `json:"attn_resolutions"`
		Ch         int   `json:"ch"`
		ChMult     []int `json:"ch_mult"`
		NumRes     int   `json:"num_res_blocks"`
		OutCh      int   `json:"out_ch"`
		Resolution int   `json:"resolution"`
		ZChannels  int   `json:"z_channels"`
	} `json:"decoder"`
	Dino struct {
		Depth    int     `json:"depth"`
		Dim      int     `json:"embed_dim"`
		FFNRatio float64 `json:"ffn_ratio"`
		InChans  int     `json:"in_chans"`
		Storage  int     `json:"n_storage_tokens"`
		Heads    int     `json:"num_heads"`
		Patch    int     `json:"patch_size"`
	} `json:"dino"`
	Image    int `json:"image_size"`
	Residual struct {
		Hidden int `json:"hidden_dim"`
		Image  int `json:"image_size"`
		MLP    int `json:"mlp_dim"`
		Heads  int `json:"num_heads"`
		Layers int `json:"num_layers"`
		Out    int `json:"output_dim"`
		Patch  int `json:"patch_size"`
	} `json:"residual_vit"`
}

func (c aeFixtureConfig) decoder() model.DecoderConfig {
	d := c.Decoder
	return model.DecoderConfig{ZChannels: d.ZChannels, Ch: d.Ch, ChMult: d.ChMult, NumResBlocks: d.NumRes,
		AttnRes: d.AttnRes, Resolution: d.Resolution, OutCh: d.OutCh, Groups: 32}
}

func (c aeFixtureConfig) dino(src model.MapSource) model.DinoConfig {
	d := c.Dino
	ffn := src["encoder.blocks.0.mlp.w1.weight"].Shape[0] // SwiGLU width is rounded in DINOv3
	return model.DinoConfig{Dim: d.Dim, Depth: d.Depth, Heads: d.Heads, FFN: ffn, Patch: d.Patch, Registers: d.Storage, InChans: d.InChans}
}

func (c aeFixtureConfig) residual() model.ResViTConfig {
	r := c.Residual
	return model.ResViTConfig{Dim: r.Hidden, Depth: r.Layers, Heads: r.Heads, MLP: r.MLP, Patch: r.Patch, Image: r.Image, OutDim: r.Out, InChans: 3}
}

// TestAutoencoderParity: DINOv3 patch tokens, the residual ViT, the
// distribution alignment and the decoder against the PyTorch twins.
func TestAutoencoderParity(t *testing.T) {
	io := openFixture(t, "ae_tiny_io.safetensors")
	var fc aeFixtureConfig
	io.config(t, &fc)
	src := checkpoint(t, "ae_tiny.ckpt", "state_dict")
	img, B, S := io.get(t, "image"), 2, fc.Image
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			dino, err := model.LoadDino(b, src, "encoder.", fc.dino(src))
			if err != nil {
				t.Fatal(err)
			}
			res, err := model.LoadResViT(b, src, "extra_vit.", fc.residual())
			if err != nil {
				t.Fatal(err)
			}
			dec, err := model.LoadDecoder(b, src, "decoder.", fc.decoder())
			if err != nil {
				t.Fatal(err)
			}
			x := b.Upload(img, B, 3, S, S)
			d, err := b.Read(dino.Forward(b, x, B, S, S))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "dino x_norm_patchtokens", d, io.get(t, "dino"), 1e-3)
			pt, ct := dino.ForwardClass(b, x, B, S, S)
			d2, err := b.Read(pt)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "dino x_norm_patchtokens (ForwardClass)", d2, io.get(t, "dino"), 1e-3)
			c, err := b.Read(ct)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "dino x_norm_clstoken", c, openFixture(t, "ae_tiny_cls.safetensors").get(t, "cls"), 1e-3)
			b.Free(pt, ct)
			r, err := b.Read(res.Forward(b, x, B))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "residual raw", r, io.get(t, "residual_raw"), 1e-3)
			model.AlignResidual(r, d, fc.Residual.Out, fc.Dino.Dim)
			near(t, "residual aligned", r, io.get(t, "residual"), 1e-3)

			lat := io.get(t, "latent")
			C, g := fc.Decoder.ZChannels, fc.Decoder.Resolution>>(len(fc.Decoder.ChMult)-1)
			z := b.Alloc(B, C, g, g)
			b.TokensToNCHW(z, b.Upload(lat, B, g*g, C), B, g*g, C)
			out, err := b.Read(dec.Forward(b, z, B))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "decoded", out, io.get(t, "decoded"), 1e-3)
		})
	}
}

// TestSampleParity: full sampling runs (Euler + constant CFG, Heun + linear
// CFG, shifted grid) from the fixture's noise, every intermediate latent, the
// de-normalised latent and the decoded image.
// sampleFixture opens the sampling fixture and its DiT and decoder configs.
func sampleFixture(t *testing.T) (fixture, model.DiTConfig, model.DecoderConfig) {
	t.Helper()
	io := openFixture(t, "sample_tiny.safetensors")
	var fc struct {
		DiT     ditFixtureConfig `json:"dit"`
		Decoder json.RawMessage  `json:"decoder"`
	}
	io.config(t, &fc)
	var ae aeFixtureConfig
	if err := json.Unmarshal([]byte(`{"decoder":`+string(fc.Decoder)+`}`), &ae); err != nil {
		t.Fatal(err)
	}
	return io, fc.DiT.cfg(), ae.decoder()
}

func TestSampleParity(t *testing.T) {
	io, dcfg, dec := sampleFixture(t)
	ditSrc := checkpoint(t, "dit_tiny.pt", "ema")
	aeSrc := checkpoint(t, "ae_tiny.ckpt", "state_dict")
	stats := checkpoint(t, "stats_tiny.pt")
	noise, classes := io.get(t, "noise"), ints(io.get(t, "y"))
	B, T, C := len(classes), dcfg.Grid*dcfg.Grid, dcfg.InChannels
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			dit, err := model.LoadDiT(b, ditSrc, "", dcfg)
			if err != nil {
				t.Fatal(err)
			}
			d, err := model.LoadDecoder(b, aeSrc, "decoder.", dec)
			if err != nil {
				t.Fatal(err)
			}
			m := &model.SVG{Cfg: model.Config{DiT: dcfg, Decoder: dec}, DiT: dit, Decoder: d,
				Mean: b.Upload(stats["dinov3_sp_mean"].Data, C), Std: b.Upload(stats["dinov3_sp_std"].Data, C)}
			for _, run := range []struct {
				name     string
				steps    int
				heun     bool
				schedule string
			}{{"euler", 3, false, "constant"}, {"heun", 2, true, "linear"}} {
				sc, err := model.ParseSchedule(run.schedule)
				if err != nil {
					t.Fatal(err)
				}
				wantT := io.get(t, run.name+"_t")
				for i, v := range model.TimeGrid(run.steps, 0.15) {
					if v != wantT[i] {
						t.Errorf("%s time grid [%d] = %v, official %v", run.name, i, v, wantT[i])
					}
				}
				zs := io.get(t, run.name+"_z")
				steps := 0
				z, err := model.Sample(b, dit, model.SampleOptions{Classes: classes, Noise: noise, Steps: run.steps,
					Heun: run.heun, CFG: 4, Schedule: sc, Shift: 0.15, X0: true,
					OnStep: func(s model.Step) error {
						got, err := b.Read(s.Z)
						if err != nil {
							return err
						}
						near(t, fmt.Sprintf("%s z step %d", run.name, s.I), got, zs[s.I*B*T*C:(s.I+1)*B*T*C], 1e-3)
						steps++
						return checkX0(t, b, s, fmt.Sprintf("%s step %d", run.name, s.I), recordedX0(zs, noise, wantT, s.I))
					}})
				if err != nil {
					t.Fatal(err)
				}
				if steps != run.steps {
					t.Errorf("%s: OnStep called %d times, want %d", run.name, steps, run.steps)
				}
				got, err := b.Read(z)
				if err != nil {
					t.Fatal(err)
				}
				near(t, run.name+" final", got, io.get(t, run.name+"_final"), 1e-3)
				img, err := b.Read(m.Decode(b, z, B))
				if err != nil {
					t.Fatal(err)
				}
				near(t, run.name+" decoded", img, io.get(t, run.name+"_decoded"), 1e-3)
			}
		})
	}
}

// checkX0 holds a step's x̂₀ to z + (1−t)·v of the same step's z, v and t,
// computed here on the host, and to want, the x̂₀ PyTorch's trajectory
// implies (recordedX0).
func checkX0(t *testing.T, b model.Backend, s model.Step, what string, want []float32) error {
	t.Helper()
	if s.X0 == nil {
		t.Fatalf("%s: no x̂₀ although SampleOptions.X0 is set", what)
	}
	var zv, vv, x0 []float32
	for _, r := range []struct {
		dst *[]float32
		src model.Tensor
	}{{&zv, s.Z}, {&vv, s.V}, {&x0, s.X0}} {
		v, err := b.Read(r.src)
		if err != nil {
			return err
		}
		*r.dst = v
	}
	host := make([]float32, len(zv))
	for i := range zv {
		host[i] = zv[i] + float32(1-s.T)*vv[i]
	}
	near(t, what+" x̂₀ vs z+(1−t)·v", x0, host, 1e-6)
	near(t, what+" x̂₀ vs PyTorch's trajectory", x0, want, 1e-3)
	return nil
}

// recordedX0 is step i's x̂₀ = z_i + (1−t_{i+1})·v_i from the recorded
// PyTorch trajectory alone: every update is z_i = z_{i−1} + dt·v_i (Heun's v
// is the averaged velocity), so v_i = (z_i − z_{i−1})/dt, with z_{−1} the noise.
func recordedX0(zs, noise, ts []float32, i int) []float32 {
	n := len(noise)
	prev, cur := noise, zs[i*n:(i+1)*n]
	if i > 0 {
		prev = zs[(i-1)*n : i*n]
	}
	dt, rest := float64(ts[i+1]-ts[i]), 1-float64(ts[i+1])
	out := make([]float32, n)
	for j := range out {
		v := (float64(cur[j]) - float64(prev[j])) / dt
		out[j] = float32(float64(cur[j]) + rest*v)
	}
	return out
}

// randomSource fills every Param of ps with seeded values: weights
// N(0, std), norm weights around 1.
func randomSource(ps []model.Param, seed uint64, std float32) model.MapSource {
	src := model.MapSource{}
	for i, p := range ps {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		v := model.Noise(seed+uint64(i), n)
		isNorm := strings.Contains(p.Name, "norm") && len(p.Shape) == 1
		for j := range v {
			v[j] *= std
			if isNorm && strings.HasSuffix(p.Name, ".weight") {
				v[j] += 1
			}
		}
		src[p.Name] = model.MapTensor{Shape: p.Shape, Data: v}
	}
	return src
}

// TestSVGXLBlock: one full-size SVG-XL DiT block (hidden 1152, 16 heads of
// 72, 256 tokens, 392 channels) with random weights, engine against the
// pure-Go reference: the real shapes, not just the tiny ones.
func TestSVGXLBlock(t *testing.T) {
	cfg := model.SVGXL
	cfg.Depth = 1
	ps := (&model.DiT{Cfg: cfg}).Params()
	src := randomSource(ps, 11, 0.02)
	T, C := cfg.Grid*cfg.Grid, cfg.InChannels
	x := model.Noise(99, T*C)
	var outs [][]float32
	for _, b := range backends() {
		m, err := model.LoadDiT(b, src, "", cfg)
		if err != nil {
			t.Fatal(err)
		}
		cond, err := m.Condition(b, []float32{0.3}, []int{207})
		if err != nil {
			t.Fatal(err)
		}
		o := b.Alloc(1, T, C)
		m.Forward(b, o, b.Upload(x, 1, T, C), cond)
		v, err := b.Read(o)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, v)
	}
	near(t, "svg-xl block: webgpu vs pure Go", outs[1], outs[0], 1e-3)
}

// quantSource serves a MapSource's Linear weights quantized (the converter
// writes the same bytes), so parity can be measured per storage kind.
type quantSource struct {
	model.MapSource
	kind  string
	group int
}

func (q quantSource) LoadWeight(b model.Backend, name string, out, in, keepRows int) (model.Weight, error) {
	w := q.MapSource[name].Data
	rows := out
	if keepRows > 0 {
		rows = keepRows
	}
	w = w[:rows*in]
	h := model.HostWeight{Name: name, Out: rows, In: in, Kind: q.kind, Group: q.group}
	if q.group > 0 && in%q.group != 0 { // as the converter does: per-row int8 where groups do not fit
		h.Kind, h.Group = "int8", 0
	}
	switch h.Kind {
	case "f16":
		for _, v := range weights.ToF16(w) {
			h.Raw = append(h.Raw, byte(v), byte(v>>8))
		}
	case "int8":
		qs, sc, err := weights.QuantizeInt8(w, rows, in, h.Group)
		if err != nil {
			return nil, err
		}
		for _, v := range qs {
			h.Raw = append(h.Raw, byte(v))
		}
		h.Scales = sc
	case "int4":
		p, sc, err := weights.QuantizeInt4(w, rows, in, q.group)
		if err != nil {
			return nil, err
		}
		h.Raw, h.Scales = p, sc
	}
	return b.UploadWeight(h), nil
}

// TestDiTQuantizedParity: the DiT with f16, int8 and int4 Linear weights
// against the f32 PyTorch output. Tolerances: f16 1e-3, int8 2e-2 (the
// issue's bound); int4 on these random (outlier-free, worst-case) weights
// is ~0.2 of scale, bounded at 0.3: it is a size option, not a parity claim.
// For every kind the two backends must also agree to 1e-5 of scale, since
// they compute with the same dequantized values.
func TestDiTQuantizedParity(t *testing.T) {
	io := openFixture(t, "dit_tiny_io.safetensors")
	var fc ditFixtureConfig
	io.config(t, &fc)
	cfg := fc.cfg()
	src := checkpoint(t, "dit_tiny.pt", "ema.")
	x, tt, y, out := io.get(t, "x"), io.get(t, "t"), ints(io.get(t, "y")), io.get(t, "out")
	B, T, C := 2, cfg.Grid*cfg.Grid, cfg.InChannels
	want := make([]float32, 0, B*T*C)
	for r := range B * T {
		want = append(want, out[r*2*C:r*2*C+C]...)
	}
	for _, q := range []struct {
		kind  string
		group int
		tol   float64
	}{{"f16", 0, 1e-3}, {"int8", 0, 2e-2}, {"int8", 32, 2e-2}, {"int4", 32, 0.3}} {
		var outs [][]float32
		for _, b := range backends() {
			t.Run(fmt.Sprintf("%s/g%d/%s", q.kind, q.group, b.Name()), func(t *testing.T) {
				m, err := model.LoadDiT(b, quantSource{src, q.kind, q.group}, "", cfg)
				if err != nil {
					t.Fatal(err)
				}
				cond, err := m.Condition(b, tt, y)
				if err != nil {
					t.Fatal(err)
				}
				o := b.Alloc(B, T, C)
				m.Forward(b, o, b.Upload(x, B, T, C), cond)
				got, err := b.Read(o)
				if err != nil {
					t.Fatal(err)
				}
				near(t, "dit out "+q.kind, got, want, q.tol)
				outs = append(outs, got)
			})
		}
		if len(outs) == 2 {
			near(t, q.kind+": webgpu vs pure Go", outs[1], outs[0], 1e-5)
		}
	}
}

// TestStepIsOneSubmit: on a GPU (SubmitEvery 0), each sampling step —
// conditioning, the guided DiT forward, CFG and the update — is one command
// buffer, and the step reports its dispatch count.
func TestStepIsOneSubmit(t *testing.T) {
	e := gpu.E
	defer func(v int) { e.SubmitEvery = v }(e.SubmitEvery)
	e.SubmitEvery = 0
	cfg := model.DiTConfig{InChannels: 8, Grid: 2, Hidden: 32, Depth: 2, Heads: 2, MLPRatio: 2, NumClasses: 3, QKNorm: true, LearnSigma: true}
	src := randomSource((&model.DiT{Cfg: cfg}).Params(), 5, 0.1)
	m, err := model.LoadDiT(gpu, src, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := gpu.Flush(); err != nil {
		t.Fatal(err)
	}
	var submits, dispatches []int
	last := e.Submits
	_, err = model.Sample(gpu, m, model.SampleOptions{Classes: []int{0, 2}, Seed: 1, Steps: 3, CFG: 3, Shift: 0.3,
		OnStep: func(s model.Step) error {
			submits = append(submits, e.Submits-last)
			dispatches = append(dispatches, s.Dispatches)
			last = e.Submits
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	// The first step also carries the noise and time-table uploads.
	for i, n := range submits[1:] {
		if n != 1 {
			t.Errorf("step %d took %d submits, want 1 (all: %v)", i+2, n, submits)
		}
	}
	if dispatches[1] < 10 || dispatches[1] != dispatches[2] {
		t.Errorf("dispatches per step %v: want a steady count of at least 10", dispatches)
	}
	t.Logf("submits per step %v, dispatches per step %v", submits, dispatches)
}
