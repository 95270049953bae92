package model_test

// The VAE-latent model against its PyTorch twin (tools/reference/vae_modules.py,
// LDM AutoencoderKL + the SVG DiT). Fixtures:
//
//	/usr/bin/python3 tools/reference/make_vae_fixtures.py
//
// Same tolerance as the other whole networks: 1e-3 of the output's scale
// (measured: about 1e-6 on both backends).

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"novae/model"
)

type vaeFixtureConfig struct {
	DD struct {
		AttnRes    []int `json:"attn_resolutions"`
		Ch         int   `json:"ch"`
		ChMult     []int `json:"ch_mult"`
		InCh       int   `json:"in_channels"`
		NumRes     int   `json:"num_res_blocks"`
		OutCh      int   `json:"out_ch"`
		Resolution int   `json:"resolution"`
		ZChannels  int   `json:"z_channels"`
	} `json:"ddconfig"`
	EmbedDim int              `json:"embed_dim"`
	Groups   int              `json:"groups"`
	DiT      ditFixtureConfig `json:"dit"`
	Run      struct {
		Steps int     `json:"steps"`
		CFG   float64 `json:"cfg"`
		Shift float64 `json:"shift"`
	} `json:"run"`
}

// config is the novae config of the fixture's model (latent kind "vae").
func (c vaeFixtureConfig) config() model.Config {
	d := c.DD
	v := model.VAEConfig{Ch: d.Ch, ChMult: d.ChMult, NumResBlocks: d.NumRes, AttnRes: d.AttnRes,
		Resolution: d.Resolution, InCh: d.InCh, ZChannels: d.ZChannels, EmbedDim: c.EmbedDim, Groups: c.Groups}
	dec := model.DecoderConfig{ZChannels: d.ZChannels, Ch: d.Ch, ChMult: d.ChMult, NumResBlocks: d.NumRes,
		AttnRes: d.AttnRes, Resolution: d.Resolution, OutCh: d.OutCh, Groups: c.Groups}
	return model.Config{Name: "vae-tiny", Image: d.Resolution, DiT: c.DiT.cfg(), Decoder: dec, Latent: model.LatentVAE,
		VAE: &v, FeatureNorm: true, Defaults: model.OfficialDefaults}
}

// vaeFixture opens the io fixture and assembles the whole model's tensors
// under novae's keys: dit.* from the DiT checkpoint, the autoencoder's LDM
// keys as they are (less loss.*), latent.mean/std from the statistics.
func vaeFixture(t *testing.T) (fixture, vaeFixtureConfig, model.MapSource) {
	t.Helper()
	io := openFixture(t, "vae_tiny_io.safetensors")
	var fc vaeFixtureConfig
	io.config(t, &fc)
	src := model.MapSource{}
	for k, v := range checkpoint(t, "vae_tiny.ckpt", "state_dict") {
		if !strings.HasPrefix(k, "loss.") {
			src[k] = v
		}
	}
	for k, v := range checkpoint(t, "vae_dit_tiny.pt", "ema") {
		src[model.PrefixDiT+k] = v
	}
	st := checkpoint(t, "vae_stats_tiny.pt")
	src[model.KeyMean] = model.MapTensor{Shape: []int{fc.EmbedDim}, Data: st["mean"].Data}
	src[model.KeyStd] = model.MapTensor{Shape: []int{fc.EmbedDim}, Data: st["std"].Data}
	return io, fc, src
}

// TestVAEParity: the LDM encoder + quant_conv (moments), the normalised
// posterior-mean latent, post_quant_conv + decoder, and the whole
// encode → decode round trip, loaded through model.Open like a novae file.
func TestVAEParity(t *testing.T) {
	io, fc, src := vaeFixture(t)
	cfg := fc.config()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	const B = 2
	S, r, E := cfg.Image, cfg.VAE.LatentRes(), cfg.VAE.EmbedDim
	if g := cfg.EncoderGrid(); g != r {
		t.Fatalf("EncoderGrid %d, want %d", g, r)
	}
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			m, err := model.Open(b, src, cfg, true)
			if err != nil {
				t.Fatal(err)
			}
			if m.VAE == nil || m.PostQuant == nil || m.Dino != nil {
				t.Fatalf("Open built VAE %v, post_quant_conv %v, DINO %v", m.VAE != nil, m.PostQuant != nil, m.Dino != nil)
			}
			img := b.Upload(io.get(t, "image"), B, 3, S, S)
			mom, err := b.Read(m.VAE.Moments(b, img, B))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "moments", mom, io.get(t, "moments"), 1e-3)
			z, err := m.Encode(b, img, B)
			if err != nil {
				t.Fatal(err)
			}
			if d := z.Dims(); len(d) != 3 || d[0] != B || d[1] != r*r || d[2] != E {
				t.Fatalf("latent dims %v, want [%d %d %d]", d, B, r*r, E)
			}
			lat, err := b.Read(z)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "latent (normalised posterior mean)", lat, io.get(t, "latent_norm"), 1e-3)
			dec, err := b.Read(m.Decode(b, z, B))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "encode → decode", dec, io.get(t, "decoded"), 1e-3)
			fromRef, err := b.Read(m.Decode(b, b.Upload(io.get(t, "latent_norm"), B, r*r, E), B))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "decode of PyTorch's latent", fromRef, io.get(t, "decoded"), 1e-3)
		})
	}
}

// TestVAESampleParity: a guided Euler run of the DiT on the VAE latent from
// the fixture's noise, then post_quant_conv + decoder — loaded without the
// encoder (a generation-only open hides encoder.* and quant_conv.*).
func TestVAESampleParity(t *testing.T) {
	io, fc, src := vaeFixture(t)
	cfg := fc.config()
	noise, classes := io.get(t, "noise"), ints(io.get(t, "y"))
	B := len(classes)
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			m, err := model.Open(b, src, cfg, false)
			if err != nil {
				t.Fatal(err)
			}
			if m.VAE != nil {
				t.Fatal("Open without encoders loaded the VAE encoder")
			}
			if _, err := m.Encode(b, b.Alloc(B, 3, cfg.Image, cfg.Image), B); err == nil || !strings.Contains(err.Error(), "no encoder") {
				t.Fatalf("Encode without the encoder: %v, want \"no encoder\"", err)
			}
			sc, err := model.ParseSchedule("constant")
			if err != nil {
				t.Fatal(err)
			}
			z, err := model.Sample(b, m.DiT, model.SampleOptions{Classes: classes, Noise: noise, Steps: fc.Run.Steps,
				CFG: fc.Run.CFG, Schedule: sc, Shift: fc.Run.Shift})
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Read(z)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "euler final", got, io.get(t, "euler_final"), 1e-3)
			img, err := b.Read(m.Decode(b, z, B))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "euler decoded", img, io.get(t, "euler_decoded"), 1e-3)
		})
	}
}

// TestVAEConfigValidate: what a "vae" config must agree on, each refused
// with an error that names it.
func TestVAEConfigValidate(t *testing.T) {
	_, fc, _ := vaeFixture(t)
	for _, c := range []struct {
		name string
		edit func(c *model.Config)
		want string
	}{
		{"no vae section", func(c *model.Config) { c.VAE = nil }, "without a \"vae\" section"},
		{"unknown kind", func(c *model.Config) { c.Latent = "vq" }, "unknown latent kind"},
		{"vae section in svg model", func(c *model.Config) { c.Latent = "svg" }, "VAE section"},
		{"embed dim vs DiT", func(c *model.Config) { c.VAE.EmbedDim++ }, "DiT takes"},
		{"z channels vs decoder", func(c *model.Config) { c.VAE.ZChannels++ }, "decoder takes"},
		{"grid", func(c *model.Config) { c.VAE.ChMult = []int{1} }, "DiT grid"},
		{"groups", func(c *model.Config) { c.VAE.Groups = 3 }, "groups"},
		{"dino beside vae", func(c *model.Config) { c.Dino = &model.DinoConfig{} }, "no DINOv3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := fc.config()
			c.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestVAEDigitsSize: the digits twin's sizes (32² images, ch 32×[1,2,3],
// attention at 8², 16 latent channels, GroupNorm 32) with random weights:
// the GPU engine's encode and decode against the pure-Go reference, 1e-4 of
// scale (the fixtures above are tiny; this runs the real widths).
func TestVAEDigitsSize(t *testing.T) {
	v := model.VAEConfig{Ch: 32, ChMult: []int{1, 2, 3}, NumResBlocks: 1, AttnRes: []int{8}, Resolution: 32, InCh: 3,
		ZChannels: 16, EmbedDim: 16, Groups: 32}
	cfg := model.Config{Name: "digits-vae-random", Image: 32, Latent: model.LatentVAE, VAE: &v, FeatureNorm: true,
		DiT: model.DiTConfig{InChannels: 16, Grid: 8, Hidden: 32, Depth: 1, Heads: 2, MLPRatio: 2, NumClasses: 10},
		Decoder: model.DecoderConfig{ZChannels: 16, Ch: 32, ChMult: []int{1, 2, 3}, NumResBlocks: 1, AttnRes: []int{8},
			Resolution: 32, OutCh: 3, Groups: 32}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	src := model.MapSource{}
	for _, p := range model.Skeleton(cfg, true).Params() {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		fan := n / p.Shape[0]
		vals := make([]float32, n)
		for i := range vals {
			switch {
			case len(p.Shape) == 1 && strings.HasSuffix(p.Name, ".weight") || p.Name == model.KeyStd:
				vals[i] = 1 + 0.1*float32(rng.NormFloat64())
			case len(p.Shape) == 1:
				vals[i] = 0.05 * float32(rng.NormFloat64())
			default:
				vals[i] = float32(rng.NormFloat64() / math.Sqrt(float64(fan)))
			}
		}
		src[p.Name] = model.MapTensor{Shape: p.Shape, Data: vals}
	}
	const B = 2
	img := make([]float32, B*3*32*32)
	for i := range img {
		img[i] = float32(math.Sin(float64(i)*0.37)) * 0.9
	}
	var lat, dec [][]float32
	for _, b := range backends() {
		m, err := model.Open(b, src, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		z, err := m.Encode(b, b.Upload(img, B, 3, 32, 32), B)
		if err != nil {
			t.Fatal(err)
		}
		zv, err := b.Read(z)
		if err != nil {
			t.Fatal(err)
		}
		dv, err := b.Read(m.Decode(b, z, B))
		if err != nil {
			t.Fatal(err)
		}
		lat, dec = append(lat, zv), append(dec, dv)
	}
	near(t, "latent, GPU vs CPU", lat[1], lat[0], 1e-4)
	near(t, "decoded, GPU vs CPU", dec[1], dec[0], 1e-4)
}
