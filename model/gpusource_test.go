package model_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"novae/model"
	"novae/model/weights"
)

// gpuSourceConfig is a tiny complete model whose encoders (patch 2) work on
// the decoder's 8×8 images, so Encode runs too.
func gpuSourceConfig() model.Config {
	return model.Config{
		Name: "gpusource-test", Image: 8,
		DiT: model.DiTConfig{InChannels: 72, Grid: 4, Hidden: 64, Depth: 2, Heads: 4, MLPRatio: 4,
			NumClasses: 10, QKNorm: true, LearnSigma: true},
		Decoder: model.DecoderConfig{ZChannels: 72, Ch: 32, ChMult: []int{2, 1}, NumResBlocks: 1,
			AttnRes: []int{4}, Resolution: 8, OutCh: 3, Groups: 32},
		Dino:        &model.DinoConfig{Dim: 64, Depth: 1, Heads: 2, FFN: 128, Patch: 2, Registers: 4, InChans: 3},
		Residual:    &model.ResViTConfig{Dim: 32, Depth: 1, Heads: 2, MLP: 64, Patch: 2, Image: 8, OutDim: 8, InChans: 3},
		Defaults:    model.OfficialDefaults,
		FeatureNorm: true,
	}
}

// writeRandomModel writes cfg with random values as a sharded set (shards of
// at most shardBytes) and returns the manifest path. quant maps a key to a
// quantization kind ("f16", "int8", "int4/32": kind/group).
func writeRandomModel(t *testing.T, cfg model.Config, quant map[string]string, shardBytes int64) string {
	t.Helper()
	m := &model.SVG{Cfg: cfg, DiT: &model.DiT{Cfg: cfg.DiT}, Decoder: &model.Decoder{Cfg: cfg.Decoder},
		Dino: &model.Dino{Cfg: *cfg.Dino}, Residual: &model.ResViT{Cfg: *cfg.Residual}}
	r := rand.New(rand.NewPCG(7, 11))
	var ts []weights.Tensor
	entries := map[string]weights.Quant{}
	for _, p := range m.Params() {
		if p.Optional {
			continue
		}
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		v := make([]float32, n)
		fanIn := n / p.Shape[0]
		for i := range v {
			g := float32(r.NormFloat64())
			switch {
			case strings.HasSuffix(p.Name, "periods"):
				v[i] = float32(math.Pow(100, float64(i)/float64(n)))
			case p.Name == model.KeyStd:
				v[i] = 0.5 + r.Float32()
			case len(p.Shape) == 1 && strings.HasSuffix(p.Name, ".weight"): // norms
				v[i] = 1 + 0.1*g
			case len(p.Shape) == 1:
				v[i] = 0.05 * g
			default:
				v[i] = g / float32(math.Sqrt(float64(fanIn)))
			}
		}
		if p.Fix != nil { // what novae convert bakes in (bias_mask)
			p.Fix(v)
		}
		wt := weights.F32Tensor(p.Name, p.Shape, v)
		if spec, ok := quant[p.Name]; ok {
			kind, group := spec, 0
			if k, g, ok := strings.Cut(spec, "/"); ok {
				kind = k
				fmt.Sscan(g, &group)
			}
			qs, q, err := weights.Quantize(wt, kind, group)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, qs...)
			entries[p.Name] = q
			continue
		}
		ts = append(ts, wt)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{"format": "novae", "config": string(js)}
	if len(entries) > 0 {
		if err := weights.SetQuant(meta, entries); err != nil {
			t.Fatal(err)
		}
	}
	path, err := weights.WriteSharded(t.TempDir(), "model", ts, meta, shardBytes)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// fillFromFile does what the page's JS does: copy each stored tensor's bytes
// into its GPU buffer (here through WriteRaw).
func fillFromFile(t *testing.T, src *model.GPUSource, f *weights.File) {
	t.Helper()
	for _, e := range src.Entries() {
		info, ok := f.Info(e.Name)
		if !ok {
			t.Fatalf("%s: not in the file", e.Name)
		}
		if info.DType != e.DType || !slices.Equal(info.Shape, e.Shape) || info.Bytes != e.Bytes {
			t.Fatalf("%s: file has %s %v (%d bytes), GPUSource expects %s %v (%d bytes)",
				e.Name, info.DType, info.Shape, info.Bytes, e.DType, e.Shape, e.Bytes)
		}
		raw, err := f.Raw(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		gpu.E.WriteRaw(e.T, raw)
	}
}

// TestGPUSource loads the same sharded set through FileSource and through
// GPUSource (buffers filled as the browser fills them) and checks that
// sampling, decoding and encoding give bit-identical results: quantized
// weights of every kind, a KeepRows prefix of an int8 weight and its scales,
// and the encoders included.
func TestGPUSource(t *testing.T) {
	cfg := gpuSourceConfig()
	manifest := writeRandomModel(t, cfg, map[string]string{
		"dit.blocks.0.attn.qkv.weight":      "int4/32",
		"dit.blocks.0.mlp.fc1.weight":       "int8",
		"dit.blocks.1.mlp.fc2.weight":       "int8/64",
		"dit.blocks.1.attn.proj.weight":     "f16",
		"dit.final_layer.linear.weight":     "int8/32", // KeepRows: a prefix of data and scales
		"encoder.blocks.0.mlp.w1.weight":    "f16",
		"decoder.conv_in.weight":            "int8", // conv weights stored quantized (-quant-convs)
		"decoder.up.0.block.0.conv1.weight": "int8",
	}, 48<<10)
	f, err := weights.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fileModel, err := model.Open(gpu, model.FileSource{F: f}, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	man, err := weights.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Shards) < 2 {
		t.Fatalf("want several shards, got %d", len(man.Shards))
	}
	src, gcfg, err := model.NewGPUSource(gpu.E, man)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Release()
	if gcfg.Name != cfg.Name {
		t.Fatalf("config from the manifest: %q", gcfg.Name)
	}
	fillFromFile(t, src, f)
	gpuModel, err := model.Open(gpu, src, gcfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if gpuModel.Dino == nil {
		t.Fatal("encoders not loaded")
	}

	run := func(m *model.SVG) (z, img []float32) {
		sc, _ := model.ParseSchedule("constant")
		zt, err := model.Sample(gpu, m.DiT, model.SampleOptions{Classes: []int{3, 10}, Seed: 5, Steps: 2,
			CFG: 3, Schedule: sc, Shift: 0.3})
		if err != nil {
			t.Fatal(err)
		}
		if z, err = gpu.Read(zt); err != nil {
			t.Fatal(err)
		}
		dec := m.Decode(gpu, zt, 2)
		if img, err = gpu.Read(dec); err != nil {
			t.Fatal(err)
		}
		gpu.Free(dec)
		return z, img
	}
	fz, fimg := run(fileModel)
	gz, gimg := run(gpuModel)
	same(t, "sampled latent", gz, fz)
	same(t, "decoded image", gimg, fimg)

	pix := make([]float32, 2*3*8*8)
	for i := range pix {
		pix[i] = float32(math.Sin(float64(i)))
	}
	enc := func(m *model.SVG) []float32 {
		lat, err := m.Encode(gpu, gpu.Upload(pix, 2, 3, 8, 8), 2)
		if err != nil {
			t.Fatal(err)
		}
		v, err := gpu.Read(lat)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	same(t, "encoded latent", enc(gpuModel), enc(fileModel))

	if _, err := model.Open(model.CPU{}, src, gcfg, false); err == nil || !strings.Contains(err.Error(), "GPU backend") {
		t.Errorf("opening a GPUSource on the CPU backend: err = %v", err)
	}
}

// same requires bit-identical values: both paths run the same kernels on the
// same bytes.
func same(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale float64
	for i := range got {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		if got[i] != want[i] {
			t.Fatalf("%s [%d]: GPUSource %g, FileSource %g", what, i, got[i], want[i])
		}
	}
	if scale == 0 {
		t.Fatalf("%s: all zero", what)
	}
	t.Logf("%s: %d values identical (scale %.3g)", what, len(got), scale)
}

// TestGPUSourceRejects: a tensor no parameter uses, and a plain tensor in
// a dtype the GPU path does not convert, are refused with their names.
func TestGPUSourceRejects(t *testing.T) {
	cfg := gpuSourceConfig()
	manifest := writeRandomModel(t, cfg, nil, 0)
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	man, err := weights.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	man.Shards[0].Tensors = append(man.Shards[0].Tensors, "dit.extra.weight")
	if _, _, err := model.NewGPUSource(gpu.E, man); err == nil || !strings.Contains(err.Error(), "dit.extra.weight") {
		t.Errorf("extra tensor: err = %v", err)
	}
	man.Shards[0].Tensors = man.Shards[0].Tensors[:len(man.Shards[0].Tensors)-1]
	lim := gpu.E.Limits
	gpu.E.Limits.MaxBinding = 4096
	_, _, err = model.NewGPUSource(gpu.E, man)
	gpu.E.Limits = lim
	if err == nil || !strings.Contains(err.Error(), "binds at most 4096") {
		t.Errorf("tensors over the binding limit: err = %v", err)
	}
	delete(man.Metadata, "config")
	if _, _, err := model.NewGPUSource(gpu.E, man); err == nil {
		t.Error("no config: no error")
	}
}
