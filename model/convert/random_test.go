package convert

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"novae/model"
	"novae/model/weights"
)

func TestRandomTiny(t *testing.T) {
	cfg := TinyConfig()
	ts := Random(cfg, 7, 0.02)
	meta, err := Metadata(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := weights.Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := weights.NewFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "random")
	if err != nil {
		t.Fatal(err)
	}
	got, err := CheckFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Check(model.FileSource{F: f}, "", ParamsFor(got)); err != nil {
		t.Fatal(err)
	}
	if err := CheckValues(f); err != nil {
		t.Fatal(err)
	}
	// Deterministic, and seed-dependent.
	again := Random(cfg, 7, 0.02)
	other := Random(cfg, 8, 0.02)
	for i := range ts {
		if ts[i].Name != again[i].Name || !bytes.Equal(ts[i].Data, again[i].Data) {
			t.Fatalf("%s differs between two runs with one seed", ts[i].Name)
		}
	}
	if bytes.Equal(ts[1].Data, other[1].Data) {
		t.Errorf("%s does not depend on the seed", ts[1].Name)
	}
	val := func(name string) []float32 {
		v, err := f.F32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	meanStd := func(v []float32) (float64, float64) {
		var s, ss float64
		for _, x := range v {
			s += float64(x)
		}
		m := s / float64(len(v))
		for _, x := range v {
			ss += (float64(x) - m) * (float64(x) - m)
		}
		return m, math.Sqrt(ss / float64(len(v)))
	}
	for _, n := range []string{"decoder.norm_out.weight", "dit.blocks.0.attn.q_norm.weight", "encoder.blocks.1.ls2.gamma",
		"encoder.norm.weight", "extra_vit.encoder.layers.encoder_layer_0.ln_1.weight", "latent.std"} {
		if m, s := meanStd(val(n)); math.Abs(m-1) > 0.02 || s > 0.04 {
			t.Errorf("%s: mean %.3f std %.3f, want ≈1", n, m, s)
		}
	}
	for _, n := range []string{"dit.blocks.1.mlp.fc1.weight", "decoder.conv_in.weight", "dit.ln1.weight", "encoder.norm.bias", "latent.mean"} {
		if m, s := meanStd(val(n)); math.Abs(m) > 0.01 || math.Abs(s-0.02) > 0.01 {
			t.Errorf("%s: mean %.3f std %.3f, want N(0, 0.02)", n, m, s)
		}
	}
	if !slices.Equal(val("dit.pos_embed"), model.PosEmbed2D(64, 4)) {
		t.Error("pos_embed is not the sin-cos table")
	}
	if !slices.Equal(val("encoder.rope_embed.periods"), model.DefaultPeriods(32)) {
		t.Error("rope periods are not DINOv3's")
	}
	if b := val("encoder.blocks.0.attn.qkv.bias"); !slices.Equal(b[64:128], make([]float32, 64)) {
		t.Error("random qkv bias has a K part")
	}
	if _, ok := f.Info("encoder.mask_token"); ok {
		t.Error("random weights carry the training-only mask_token")
	}
}

func TestRandomQuantizedSharded(t *testing.T) {
	cfg := TinyConfig()
	cfg.Dino, cfg.Residual = nil, nil
	p, err := RandomPack(cfg, 1, 0.05, Quant{Kind: "int4"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Storage.Group != DefaultInt4Group {
		t.Errorf("int4 default group %d", p.Storage.Group)
	}
	meta, _ := Metadata(cfg, nil, p.Quant, map[string]string{"random": `{"seed":1}`})
	dir := t.TempDir()
	files, err := Output{Path: filepath.Join(dir, "r.json"), Shard: true, ShardBytes: 256 << 10}.Write(p, meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 || !strings.HasSuffix(files[0].Path, "r.json") {
		t.Errorf("files %+v", files)
	}
	f, err := weights.Open(files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := CheckFile(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(); err != nil {
		t.Fatal(err)
	}
	st := Stats(f)
	if st.Quant["int4 group 32"] == 0 || st.Params["encoder"] != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The paper's sizes: the parameter lists (what Random generates) count
// SVG-XL at 676M, the decoder at 43.1M, DINOv3-S+ at 28.7M and the
// residual ViT at 11.2M (the paper).
func TestParamsForPaperSizes(t *testing.T) {
	cfg, err := Preset("svg-xl")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range ParamsFor(cfg) {
		if p.Optional && p.Name != "dit.pos_embed" {
			continue
		}
		count[Network(p.Name)] += numel(p.Shape)
	}
	for net, want := range map[string]float64{"dit": 676e6, "decoder": 43.1e6, "encoder": 28.7e6, "extra_vit": 11.2e6, "latent": 784} {
		if got := float64(count[net]); math.Abs(got-want)/want > 0.006 {
			t.Errorf("%s: %d parameters, want about %.4g", net, count[net], want)
		}
	}
	for _, n := range []string{"svg-l", "svg-b"} {
		c, _ := Preset(n)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if cfg.Decoder.ChMult[0] = 9; model.SVGDecoder.ChMult[0] == 9 {
		t.Error("Preset shares slices with package model")
	}
}
