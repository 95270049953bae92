package main

// encode and reconstruct end to end: image → latent (safetensors) → image,
// against the PyTorch autoencoder twin (tools/reference/make_fixtures.py).

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"novae/model/weights"
)

// fixtureImages writes the autoencoder fixture's two input images as 16-bit
// PNGs (their side is the encoders', so loading them resamples nothing and
// the 16-bit rounding stays below 4e-5 of the normalised input).
func fixtureImages(t *testing.T, dir string) []string {
	t.Helper()
	img := tensor(t, td+"ae_tiny_io.safetensors", "image") // [2,3,64,64], ImageNet-normalised
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	return writeImages16(t, dir, "img", img, 2, 64, func(v float32, ch int) float32 { return v*std[ch] + mean[ch] })
}

// writeImages16 writes the N images of img [N,3,S,S] as 16-bit PNGs
// dir/<prefix><n>.png; unit maps a value of channel ch into [0,1].
func writeImages16(t *testing.T, dir, prefix string, img []float32, N, S int, unit func(v float32, ch int) float32) []string {
	t.Helper()
	var paths []string
	for n := range N {
		m := image.NewNRGBA64(image.Rect(0, 0, S, S))
		for y := range S {
			for x := range S {
				var c [3]uint16
				for ch := range 3 {
					v := unit(img[((n*3+ch)*S+y)*S+x], ch)
					c[ch] = uint16(max(0, min(65535, v*65535+0.5)))
				}
				m.SetNRGBA64(x, y, color.NRGBA64{c[0], c[1], c[2], 65535})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("%s%d.png", prefix, n))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, m); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	return paths
}

func readPNG(t *testing.T, path string) *image.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img.(*image.RGBA)
}

// pytorchLatent is the fixture's latent in the sampler's normalised space,
// (x − mean)/std with the fixture statistics: what encode must write.
func pytorchLatent(t *testing.T) []float32 {
	t.Helper()
	lat := tensor(t, td+"ae_tiny_io.safetensors", "latent")
	mean := tensor(t, td+"sample_tiny.safetensors", "stats_mean")
	std := tensor(t, td+"sample_tiny.safetensors", "stats_std")
	out := make([]float32, len(lat))
	for i, v := range lat {
		out[i] = (v - mean[i%72]) / std[i%72]
	}
	return out
}

// TestEncodeReconstruct: encode writes the PyTorch twin's latent (1e-3 of
// scale) as "latent" [2,16,72] with its metadata; reconstruct -latent turns
// it into exactly the pixels reconstruct makes from the images, and those
// are PyTorch's decoded images to ±1 level; on WebGPU and with -cpu.
func TestEncodeReconstruct(t *testing.T) {
	w := convertTiny(t)
	imgs := fixtureImages(t, t.TempDir())
	for _, d := range devices {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			lat := filepath.Join(dir, "latent.safetensors")
			args := append(append([]string{"encode", "-weights", w, "-out", lat}, d.args...), imgs...)
			if code, so, se := novae(t, args...); code != 0 || !strings.Contains(so, "latent [2,16,72]") {
				t.Fatalf("encode: exit %d\n%s%s", code, so, se)
			}
			checkLatentFile(t, lat, w)
			near(t, "encode vs PyTorch", tensor(t, lat, "latent"), pytorchLatent(t), 1e-3)

			fromLatent, fromImages := filepath.Join(dir, "latent.png"), filepath.Join(dir, "images.png")
			args = append([]string{"reconstruct", "-weights", w, "-latent", lat, "-out", fromLatent}, d.args...)
			if code, so, se := novae(t, args...); code != 0 || !strings.Contains(so, "2 images decoded from") {
				t.Fatalf("reconstruct -latent: exit %d\n%s%s", code, so, se)
			}
			args = append(append([]string{"reconstruct", "-weights", w, "-out", fromImages}, d.args...), imgs...)
			if code, so, se := novae(t, args...); code != 0 {
				t.Fatalf("reconstruct: exit %d\n%s%s", code, so, se)
			}
			a, b := readPNG(t, fromLatent), readPNG(t, fromImages)
			if a.Rect != b.Rect || !slices.Equal(a.Pix, b.Pix) {
				t.Errorf("reconstruct -latent and reconstruct of the same images differ (%v vs %v)", a.Rect, b.Rect)
			}
			if worst := levelsFromPyTorch(t, a); worst > 1 {
				t.Errorf("decoded latent differs from PyTorch's decoded images by up to %d levels", worst)
			} else {
				t.Logf("decoded latent: identical to reconstruct, ≤ %d level from PyTorch's decoded images", worst)
			}
		})
	}
}

// checkLatentFile: one F32 tensor "latent" [2,16,72], with the weights it
// came from and its space in the metadata.
func checkLatentFile(t *testing.T, path, w string) {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, ok := f.Info("latent")
	if names := f.Names(); len(names) != 1 || !ok {
		t.Fatalf("%s holds %v, want only \"latent\"", path, names)
	}
	if info.DType != weights.F32 || !slices.Equal(info.Shape, []int{2, 16, 72}) {
		t.Errorf("latent is %s %v, want F32 [2 16 72]", info.DType, info.Shape)
	}
	if m := f.Metadata(); m["weights"] != w || m["space"] != "normalised" {
		t.Errorf("latent metadata %v: want weights %s, space normalised", m, w)
	}
}

// levelsFromPyTorch is the largest difference, in 8-bit levels, between a
// grid of the two fixture images (one row) and PyTorch's decoded images.
func levelsFromPyTorch(t *testing.T, img *image.RGBA) int {
	t.Helper()
	return levelsFrom(t, img, tensor(t, td+"ae_tiny_io.safetensors", "decoded"), 2, 8)
}

// TestReconstructLatentRefused: latents that do not fit the weights, files
// without one, and mixed arguments are refused naming the file and problem.
func TestReconstructLatentRefused(t *testing.T) {
	w := convertTiny(t)
	dir := t.TempDir()
	write := func(name string, shape []int, meta map[string]string) string {
		n := 1
		for _, s := range shape {
			n *= s
		}
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := weights.Write(f, []weights.Tensor{weights.F32Tensor("latent", shape, make([]float32, n))}, meta); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"channels", []string{"-latent", write("c.safetensors", []int{1, 16, 64}, nil)}, 1,
			`c.safetensors: latent [1 16 64] does not fit model "tiny": want [N,16,72] (16 tokens of 72 channels`},
		{"tokens", []string{"-latent", write("t.safetensors", []int{2, 9, 72}, nil)}, 1,
			"t.safetensors: latent [2 9 72] does not fit"},
		{"rank", []string{"-latent", write("r.safetensors", []int{16, 72}, nil)}, 1, "r.safetensors: latent [16 72] does not fit"},
		{"batch", []string{"-latent", write("b.safetensors", []int{257, 16, 72}, nil)}, 1, "1 ≤ N ≤ 256"},
		{"space", []string{"-latent", write("s.safetensors", []int{1, 16, 72}, map[string]string{"space": "raw"})}, 1,
			`s.safetensors: latent in "raw" space`},
		{"no latent", []string{"-latent", td + "dit_tiny_io.safetensors"}, 1, `dit_tiny_io.safetensors: no tensor "latent"`},
		{"missing", []string{"-latent", filepath.Join(dir, "nope.safetensors")}, 1, "nope.safetensors"},
		{"both", []string{"-latent", filepath.Join(dir, "c.safetensors"), "img.png"}, 2, "give images or -latent, not both"},
	} {
		args := append([]string{"reconstruct", "-cpu", "-weights", w, "-out", filepath.Join(dir, c.name+".png")}, c.args...)
		code, so, se := novae(t, args...)
		if code != c.code || !strings.Contains(se, c.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s%s", c.name, code, c.code, c.want, so, se)
		}
		if _, err := os.Stat(filepath.Join(dir, c.name+".png")); err == nil {
			t.Errorf("%s: wrote a PNG although refused", c.name)
		}
	}
}
