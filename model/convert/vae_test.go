package convert

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"novae/model"
	"novae/model/pt"
)

var (
	vaeDiT   = testdata + "vae_dit_tiny.pt"
	vaeCkpt  = testdata + "vae_tiny.ckpt"
	vaeStats = testdata + "vae_stats_tiny.pt"
)

// vaeExpected is what a converted VAE-latent file must hold, straight from
// the fixtures: the DiT's "ema" under dit., the LDM autoencoder's keys as
// they are (less loss.*), the statistics' mean/std as latent.mean/std [4].
func vaeExpected(t *testing.T) map[string]*pt.Tensor {
	t.Helper()
	want := map[string]*pt.Tensor{}
	for k, v := range load(t, vaeDiT) {
		want["dit."+strings.TrimPrefix(k, "ema.")] = v
	}
	for k, v := range load(t, vaeCkpt) {
		if k, ok := strings.CutPrefix(k, "state_dict."); ok && !strings.HasPrefix(k, "loss.") {
			want[k] = v
		}
	}
	st := load(t, vaeStats)
	want[model.KeyMean], want[model.KeyStd] = st["mean"], st["std"]
	return want
}

// TestConvertVAE: the LDM KL autoencoder is recognised by post_quant_conv,
// its config inferred from the shapes (only the GroupNorm groups come from
// outside), every tensor copied exactly, and the result loads.
func TestConvertVAE(t *testing.T) {
	dir := t.TempDir()
	o := Options{DiT: vaeDiT, AE: vaeCkpt, Stats: vaeStats, Override: Overrides{Groups: 4, Name: "v"},
		Output: Output{Path: filepath.Join(dir, "v.safetensors")}}
	var log strings.Builder
	o.Log = &log
	if err := Convert(o); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	f := open(t, o.Output.Path)
	compareExact(t, f, vaeExpected(t))
	cfg, err := CheckFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := VAETinyConfig()
	want.Name, want.Classes = "v", nil
	if g, w := fmt.Sprintf("%+v %+v %+v", cfg.DiT, cfg.Decoder, *cfg.VAE), fmt.Sprintf("%+v %+v %+v", want.DiT, want.Decoder, *want.VAE); g != w || cfg.Latent != "vae" || cfg.Dino != nil {
		t.Errorf("inferred config\n  %s\nwant\n  %s", g, w)
	}
	if ps := ParamsFor(cfg); !strings.HasPrefix(ps[len(ps)-1].Name, "quant_conv.") && !strings.HasPrefix(ps[len(ps)-1].Name, "encoder.") {
		t.Errorf("storage order ends with %s, want the encoder side last", ps[len(ps)-1].Name)
	}
	if _, err := model.Open(model.CPU{}, model.FileSource{F: f}, cfg, true); err != nil {
		t.Fatal(err)
	}
}

// TestConvertVAERefused: mixtures and halves of the LDM autoencoder are
// refused, each saying what is wrong; -no-encoders drops encoder.* and
// quant_conv.* and marks the config.
func TestConvertVAERefused(t *testing.T) {
	dir := t.TempDir()
	ae := load(t, vaeCkpt)
	svgAE := load(t, aeCkpt)
	variant := func(name string, edit func(m map[string]*pt.Tensor)) string {
		m := map[string]*pt.Tensor{}
		for k, v := range ae {
			m[k] = v
		}
		edit(m)
		p := filepath.Join(dir, name+".safetensors")
		writeST(t, p, m)
		return p
	}
	drop := func(prefix string) func(m map[string]*pt.Tensor) {
		return func(m map[string]*pt.Tensor) {
			for k := range m {
				if strings.HasPrefix(k, "state_dict."+prefix) {
					delete(m, k)
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		o    func(o *Options)
		want string
	}{
		{"no quant_conv", func(o *Options) { o.AE = variant("noquant", drop("quant_conv.")) }, "no quant_conv"},
		{"no encoder", func(o *Options) { o.AE = variant("noenc", drop("encoder.")) }, "quant_conv but no encoder"},
		{"residual ViT too", func(o *Options) {
			o.AE = variant("mixed", func(m map[string]*pt.Tensor) {
				for k, v := range svgAE {
					if strings.HasPrefix(k, "state_dict.extra_vit.") {
						m[k] = v
					}
				}
			})
		}, "which model is it"},
		{"-dino", func(o *Options) { o.Dino = aeCkpt }, "no DINOv3 for -dino"},
		{"wrong groups", func(o *Options) { o.Override.Groups = 3 }, "groups"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{DiT: vaeDiT, AE: vaeCkpt, Stats: vaeStats, Override: Overrides{Groups: 4},
				Output: Output{Path: filepath.Join(dir, "out.safetensors")}}
			c.o(&o)
			err := Convert(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Convert: %v, want an error containing %q", err, c.want)
			}
		})
	}

	o := Options{DiT: vaeDiT, AE: vaeCkpt, Stats: vaeStats, Override: Overrides{Groups: 4}, NoEncoders: true,
		Output: Output{Path: filepath.Join(dir, "gen.safetensors")}}
	if err := Convert(o); err != nil {
		t.Fatal(err)
	}
	f := open(t, o.Output.Path)
	cfg, err := CheckFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.VAE.NoEncoder {
		t.Error("a generation-only VAE file's config does not say NoEncoder")
	}
	for _, n := range f.Names() {
		if strings.HasPrefix(n, "encoder.") || strings.HasPrefix(n, "quant_conv.") {
			t.Errorf("generation-only file holds %s", n)
		}
	}
}

// officialSDVAE is the key list of the official AutoencoderKL at the
// SD-VAE sizes (latent-diffusion configs/autoencoder/autoencoder_kl_32x32x4.yaml),
// written from the official code by tools/reference/verify_official_vae.py.
const officialSDVAE = "testdata/official_sd_vae_kl_f8.txt"

// sdVAEConfig is a VAE-latent config with the SD-VAE (f8, 4 channels at
// 256²) and a small DiT on its 32×32 latent.
func sdVAEConfig() model.Config {
	return model.Config{Name: "sd-vae", Image: 256,
		DiT: model.DiTConfig{InChannels: 4, Grid: 32, Hidden: 64, Depth: 1, Heads: 2, MLPRatio: 4, NumClasses: 10,
			QKNorm: true, LearnSigma: true},
		Decoder: model.DecoderConfig{ZChannels: 4, Ch: 128, ChMult: []int{1, 2, 4, 4}, NumResBlocks: 2, Resolution: 256,
			OutCh: 3, Groups: 32},
		Latent: model.LatentVAE,
		VAE: &model.VAEConfig{Ch: 128, ChMult: []int{1, 2, 4, 4}, NumResBlocks: 2, Resolution: 256, InCh: 3, ZChannels: 4,
			EmbedDim: 4, Groups: 32},
		Defaults: model.OfficialDefaults, FeatureNorm: true}
}

// TestOfficialKeysVAE: novae's VAE parameters at the SD-VAE sizes are
// exactly the official AutoencoderKL's keys and shapes, and converting a
// checkpoint with those keys (shapes only, plus a loss.* key) infers the
// SD-VAE config from the shapes alone.
func TestOfficialKeysVAE(t *testing.T) {
	l := readOfficial(t, officialSDVAE)
	cfg := sdVAEConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ditShapes := map[string]*pt.Tensor{}
	var have []string
	for _, p := range ParamsFor(cfg) {
		switch Network(p.Name) {
		case "dit":
			ditShapes["ema."+strings.TrimPrefix(p.Name, model.PrefixDiT)] = &pt.Tensor{Shape: p.Shape, DType: "F32"}
		case "latent":
		default:
			have = append(have, p.Name)
			if w, ok := l.shapes[p.Name]; !ok || !sameShape(w, p.Shape) {
				t.Errorf("%s %v: official %v (present %v)", p.Name, p.Shape, w, ok)
			}
		}
	}
	if len(have) != len(l.keys) {
		t.Errorf("novae lists %d VAE tensors, the official AutoencoderKL has %d", len(have), len(l.keys))
	}

	ae := l.tensors("state_dict.")
	ae["state_dict.loss.logvar"] = &pt.Tensor{Shape: []int{}, DType: "F32"}
	mean, std := make([]float32, 4), []float32{1, 2, 3, 4}
	read := officialReader(map[string]map[string]*pt.Tensor{
		"dit.pt": ditShapes, "vae.ckpt": ae,
		"stats.pt": {"mean": {Shape: []int{1, 1, 4}, DType: "F32", Data: mean}, "std": {Shape: []int{1, 1, 4}, DType: "F32", Data: std}},
	})
	a, err := assemble(Options{DiT: "dit.pt", AE: "vae.ckpt", Stats: "stats.pt", Override: Overrides{Name: "sd-vae"}}, read)
	if err != nil {
		t.Fatal(err)
	}
	want := sdVAEConfig()
	if !reflect.DeepEqual(*a.Config.VAE, *want.VAE) || !reflect.DeepEqual(a.Config.Decoder, want.Decoder) || a.Config.Latent != "vae" {
		t.Errorf("inferred\n  vae %+v\n  decoder %+v\nwant\n  vae %+v\n  decoder %+v", *a.Config.VAE, a.Config.Decoder, *want.VAE, want.Decoder)
	}
}
