package main

// The VAE-latent model through the commands: convert the LDM KL autoencoder
// fixtures (tools/reference/make_vae_fixtures.py), then info, encode,
// reconstruct and sample against what the PyTorch twin computed.

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"novae/model"
	"novae/model/convert"
	"novae/model/weights"
	"novae/shaders/ref"
)

const vaeIO = td + "vae_tiny_io.safetensors"

func convertVAETiny(t *testing.T, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "vae.safetensors")
	args := append([]string{"convert", "-dit", td + "vae_dit_tiny.pt", "-ae", td + "vae_tiny.ckpt",
		"-stats", td + "vae_stats_tiny.pt", "-preset", "vae-tiny", "-q", "-out", out}, extra...)
	if code, so, se := novae(t, args...); code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	return out
}

// vaeImages writes the VAE fixture's images ([-1,1], 8×8) as 16-bit PNGs.
func vaeImages(t *testing.T, dir string) []string {
	t.Helper()
	return writeImages16(t, dir, "vae", tensor(t, vaeIO, "image"), 2, 8, func(v float32, _ int) float32 { return (v + 1) / 2 })
}

// levelsFrom is the largest difference in 8-bit levels between a one-row
// grid of N S×S images and the [-1,1] images want [N,3,S,S].
func levelsFrom(t *testing.T, img *image.RGBA, want []float32, N, S int) int {
	t.Helper()
	px := make([]byte, N*S*S*4)
	ref.ToRGBA8(px, want, N, S, S)
	if img.Rect.Dx() != N*S || img.Rect.Dy() != S {
		t.Fatalf("grid %v, want %d×%d", img.Rect, N*S, S)
	}
	worst := 0
	for i := range N {
		for y := range S {
			for x := range S * 4 {
				d := int(img.Pix[y*img.Stride+i*S*4+x]) - int(px[(i*S+y)*S*4+x])
				worst = max(worst, d, -d)
			}
		}
	}
	return worst
}

// TestVAEConvertInfo: the converter infers the VAE config from the LDM keys
// (the preset gives only the GroupNorm groups the shapes cannot tell) and
// info describes it; -no-encoders leaves out encoder.* and quant_conv.*.
func TestVAEConvertInfo(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "g.safetensors")
	code, so, se := novae(t, "convert", "-dit", td+"vae_dit_tiny.pt", "-ae", td+"vae_tiny.ckpt", "-stats",
		td+"vae_stats_tiny.pt", "-groups", "4", "-name", "vae-inferred", "-out", out)
	if code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	f, err := weights.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseConfig(f.Metadata())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := model.VAEConfig{Ch: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnRes: []int{4}, Resolution: 8, InCh: 3,
		ZChannels: 6, EmbedDim: 4, Groups: 4}
	if v := cfg.VAE; cfg.Latent != model.LatentVAE || v == nil || fmt.Sprint(*v) != fmt.Sprint(want) {
		t.Fatalf("inferred latent %q, vae %+v; want vae %+v", cfg.Latent, v, want)
	}
	if code, so, se := novae(t, "info", out); code != 0 || !strings.Contains(so, "VAE latent (LDM KL autoencoder) 8² → 4²×4") ||
		!strings.Contains(so, "encoder 19.2k") {
		t.Errorf("info: exit %d\n%s%s", code, so, se)
	}
	gen := convertVAETiny(t, "-no-encoders")
	if code, so, se := novae(t, "info", "-tensors", gen); code != 0 || !strings.Contains(so, "(no encoder in the file)") ||
		strings.Contains(so, "\n  quant_conv.weight") || strings.Contains(so, "\n  encoder.") || !strings.Contains(so, "\n  post_quant_conv.weight") {
		t.Errorf("info of the generation-only file: exit %d\n%s%s", code, so, se)
	}
	img := vaeImages(t, dir)
	if code, _, se := novae(t, "encode", "-cpu", "-weights", gen, "-out", filepath.Join(dir, "x.safetensors"), img[0]); code != 1 ||
		!strings.Contains(se, "has no encoders") {
		t.Errorf("encode without an encoder: exit %d, %s", code, se)
	}
}

// TestVAEEncodeReconstruct: encode writes the twin's normalised posterior
// mean [2,16,4] (1e-3 of scale) from [-1,1]-normalised pixels; reconstruct
// -latent gives exactly reconstruct's pixels, ≤ 1 level from PyTorch's
// decoded images; on WebGPU and with -cpu.
func TestVAEEncodeReconstruct(t *testing.T) {
	w := convertVAETiny(t)
	imgs := vaeImages(t, t.TempDir())
	for _, d := range devices {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			lat := filepath.Join(dir, "latent.safetensors")
			args := append(append([]string{"encode", "-weights", w, "-out", lat}, d.args...), imgs...)
			if code, so, se := novae(t, args...); code != 0 || !strings.Contains(so, "latent [2,16,4]") {
				t.Fatalf("encode: exit %d\n%s%s", code, so, se)
			}
			f, err := weights.Open(lat)
			if err != nil {
				t.Fatal(err)
			}
			if m := f.Metadata(); m["latent"] != "vae" || m["space"] != "normalised" {
				t.Errorf("latent metadata %v", m)
			}
			f.Close()
			near(t, "encode vs PyTorch", tensor(t, lat, "latent"), tensor(t, vaeIO, "latent_norm"), 1e-3)

			fromLatent, fromImages := filepath.Join(dir, "latent.png"), filepath.Join(dir, "images.png")
			args = append([]string{"reconstruct", "-weights", w, "-latent", lat, "-out", fromLatent}, d.args...)
			if code, so, se := novae(t, args...); code != 0 {
				t.Fatalf("reconstruct -latent: exit %d\n%s%s", code, so, se)
			}
			args = append(append([]string{"reconstruct", "-weights", w, "-out", fromImages}, d.args...), imgs...)
			if code, so, se := novae(t, args...); code != 0 {
				t.Fatalf("reconstruct: exit %d\n%s%s", code, so, se)
			}
			a, b := readPNG(t, fromLatent), readPNG(t, fromImages)
			if a.Rect != b.Rect || !slices.Equal(a.Pix, b.Pix) {
				t.Errorf("reconstruct -latent and reconstruct of the same images differ")
			}
			if worst := levelsFrom(t, a, tensor(t, vaeIO, "decoded"), 2, 8); worst > 1 {
				t.Errorf("decoded latent differs from PyTorch's decoded images by up to %d levels", worst)
			}
		})
	}
}

// TestVAESample: `novae sample -noise` with the fixture's noise and Euler
// settings writes the image PyTorch decoded (post_quant_conv + decoder), ±1
// level.
func TestVAESample(t *testing.T) {
	w := convertVAETiny(t)
	dir := t.TempDir()
	noise := filepath.Join(dir, "noise.safetensors")
	writeTensor(t, noise, weights.F32Tensor("noise", []int{2, 16, 4}, tensor(t, vaeIO, "noise")))
	y := tensor(t, vaeIO, "y")
	for _, d := range devices {
		out := filepath.Join(dir, d.name+".png")
		args := append([]string{"sample", "-weights", w, "-noise", noise, "-class", fmt.Sprintf("%d,%d", int(y[0]), int(y[1])),
			"-steps", "2", "-cfg", "3", "-shift", "0.3", "-schedule", "constant", "-q", "-out", out}, d.args...)
		if code, so, se := novae(t, args...); code != 0 {
			t.Fatalf("sample %s: exit %d\n%s%s", d.name, code, so, se)
		}
		// sample writes one image per row: regrid to compare.
		img := readPNG(t, out)
		row := image.NewRGBA(image.Rect(0, 0, 16, 8))
		for i := range 2 {
			for yy := range 8 {
				copy(row.Pix[yy*row.Stride+i*32:yy*row.Stride+i*32+32], img.Pix[(i*8+yy)*img.Stride:(i*8+yy)*img.Stride+32])
			}
		}
		if worst := levelsFrom(t, row, tensor(t, vaeIO, "euler_decoded"), 2, 8); worst > 1 {
			t.Errorf("%s: sample differs from PyTorch's decoded image by up to %d levels", d.name, worst)
		}
	}
}

// TestEncodeWritesNothingOnError: every failure of encode leaves the output
// as it was — absent, or an existing file untouched — and no temporary file:
// bad images, a model without encoders, an unwritable output, and encoders
// whose token grid differs from the DiT's (written with the encoders' grid,
// which reconstruct then refuses to decode, saying why).
func TestEncodeWritesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	w := convertVAETiny(t)
	gen := convertVAETiny(t, "-no-encoders")
	img := vaeImages(t, dir)
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "latent.safetensors")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"bad image", []string{"-weights", w, "-out", out, img[0], bad}, "not an image"},
		{"missing image", []string{"-weights", w, "-out", out, filepath.Join(dir, "nope.png")}, "nope.png"},
		{"no encoders", []string{"-weights", gen, "-out", out, img[0]}, "has no encoders"},
		{"output is a directory", []string{"-weights", w, "-out", filepath.Dir(out), img[0]}, "out"},
	} {
		code, so, se := novae(t, append([]string{"encode", "-cpu"}, c.args...)...)
		if code == 0 || !strings.Contains(se, c.want) {
			t.Errorf("%s: exit %d, want an error with %q\n%s%s", c.name, code, c.want, so, se)
		}
		ents, _ := os.ReadDir(filepath.Dir(out))
		if len(ents) != 0 {
			t.Errorf("%s: left %d files in the output directory (%s)", c.name, len(ents), ents[0].Name())
		}
	}
	// An existing output survives a failed run byte for byte.
	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := novae(t, "encode", "-cpu", "-weights", w, "-out", out, bad); code == 0 {
		t.Fatal("encode of a bad image succeeded")
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "keep me" {
		t.Errorf("a failed encode changed the existing output: %q, %v", b, err)
	}

	// Encoders on a 2×2 grid beside a DiT on 4×4 (the residual ViT takes
	// 32² images at patch 16): encode writes the encoders' [1,4,72];
	// reconstruct refuses to decode it, saying why, and writes no PNG.
	cfg := convert.TinyConfig()
	cfg.Residual.Image = 32
	js, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "grid2.json")
	if err := os.WriteFile(cfgPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "grid2.safetensors")
	if code, so, se := novae(t, "random", "-config", cfgPath, "-q", "-out", m); code != 0 {
		t.Fatalf("random: exit %d\n%s%s", code, so, se)
	}
	lat := filepath.Join(dir, "grid.safetensors")
	if code, so, se := novae(t, "encode", "-cpu", "-weights", m, "-out", lat, img[0]); code != 0 || !strings.Contains(so, "latent [1,4,72]") {
		t.Fatalf("encode with a 2×2 encoder grid: exit %d\n%s%s", code, so, se)
	}
	png := filepath.Join(dir, "grid.png")
	for _, args := range [][]string{{img[0]}, {"-latent", lat}} {
		code, so, se := novae(t, append([]string{"reconstruct", "-cpu", "-weights", m, "-out", png}, args...)...)
		if code != 1 || !(strings.Contains(se, "reconstruct cannot decode it") || strings.Contains(se, "latent [1 4 72] does not fit")) {
			t.Errorf("reconstruct %v of a 2×2-grid latent: exit %d\n%s%s", args, code, so, se)
		}
		if _, err := os.Stat(png); err == nil {
			t.Errorf("reconstruct %v wrote a PNG although refused", args)
		}
	}
}
