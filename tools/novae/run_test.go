package main

// The commands that run networks, end to end: convert the PyTorch fixtures,
// then check forward and sample against what the PyTorch twins computed
// (tools/reference/make_fixtures.py).

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"novae/model/weights"
	"novae/shaders/ref"
)

func convertTiny(t *testing.T, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tiny.safetensors")
	args := append([]string{"convert", "-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-stats", td + "stats_tiny.pt",
		"-preset", "tiny", "-q", "-out", out}, extra...)
	if code, so, se := novae(t, args...); code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	return out
}

func tensor(t *testing.T, path, name string) []float32 {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := f.F32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func maxRelErr(got, want []float32) float64 {
	var scale, worst float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		worst = math.Max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	return worst / scale
}

// TestForwardDiT: `novae forward -net dit` on the fixture input matches the
// PyTorch output's velocity half (1e-3 of scale), on WebGPU and with -cpu.
func TestForwardDiT(t *testing.T) {
	w := convertTiny(t)
	full := tensor(t, td+"dit_tiny_io.safetensors", "out")
	const C = 72
	var want []float32
	for r := range len(full) / (2 * C) {
		want = append(want, full[r*2*C:r*2*C+C]...)
	}
	for _, dev := range [][]string{nil, {"-cpu"}} {
		out := filepath.Join(t.TempDir(), "out.safetensors")
		args := append([]string{"forward", "-weights", w, "-net", "dit", "-input", td + "dit_tiny_io.safetensors", "-output", out}, dev...)
		if code, so, se := novae(t, args...); code != 0 {
			t.Fatalf("forward %v: exit %d\n%s%s", dev, code, so, se)
		}
		if e := maxRelErr(tensor(t, out, "out"), want); e > 1e-3 {
			t.Errorf("forward %v: error %.3g of scale", dev, e)
		} else {
			t.Logf("forward %v: error %.3g of scale", dev, e)
		}
	}
}

// TestSampleMatchesPyTorch: `novae sample -noise` with the fixture's noise,
// classes and Euler settings writes the image PyTorch decoded, to ±1 level
// (clamped to [-1,1] and quantized the same way).
func TestSampleMatchesPyTorch(t *testing.T) {
	w := convertTiny(t)
	dir := t.TempDir()
	fx := td + "sample_tiny.safetensors"
	noise := filepath.Join(dir, "noise.safetensors")
	f, err := os.Create(noise)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.Write(f, []weights.Tensor{weights.F32Tensor("noise", []int{2, 16, 72}, tensor(t, fx, "noise"))}, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	y := tensor(t, fx, "y")
	out := filepath.Join(dir, "s.png")
	code, so, se := novae(t, "sample", "-weights", w, "-noise", noise, "-class", fmt.Sprintf("%d,%d", int(y[0]), int(y[1])),
		"-steps", "3", "-cfg", "4", "-shift", "0.15", "-schedule", "constant", "-q", "-out", out)
	if code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, so, se)
	}
	pf, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(pf)
	pf.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2*8*8*4)
	ref.ToRGBA8(want, tensor(t, fx, "euler_decoded"), 2, 8, 8)
	rgba := img.(*image.RGBA)
	worst := 0
	for i := range 2 {
		for yy := range 8 {
			for x := range 8 {
				for c := range 4 {
					got := int(rgba.Pix[(i*8+yy)*rgba.Stride+x*4+c]) // one image per row of the grid
					d := got - int(want[((i*8+yy)*8+x)*4+c])
					worst = max(worst, d, -d)
				}
			}
		}
	}
	if worst > 1 {
		t.Errorf("sample PNG differs from PyTorch's decoded image by up to %d levels", worst)
	}
}

// TestForwardEncodersDecoder: `novae forward` for dino, residual and decoder
// against the PyTorch twins' outputs (1e-3 of scale).
func TestForwardEncodersDecoder(t *testing.T) {
	w := convertTiny(t)
	dir := t.TempDir()
	io := td + "ae_tiny_io.safetensors"
	// The decoder takes z as [N,C,h,w]: transpose the fixture's token latent.
	lat := tensor(t, io, "latent")
	z := make([]float32, len(lat))
	ref.Transpose(z, lat, 2, 16, 72)
	zin := filepath.Join(dir, "z.safetensors")
	f, err := os.Create(zin)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.Write(f, []weights.Tensor{weights.F32Tensor("z", []int{2, 72, 4, 4}, z)}, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct{ net, input, want string }{
		{"dino", io, "dino"}, {"residual", io, "residual_raw"}, {"decoder", zin, "decoded"},
	} {
		out := filepath.Join(dir, c.net+".safetensors")
		if code, so, se := novae(t, "forward", "-weights", w, "-net", c.net, "-input", c.input, "-output", out); code != 0 {
			t.Fatalf("forward %s: exit %d\n%s%s", c.net, code, so, se)
		}
		if e := maxRelErr(tensor(t, out, "out"), tensor(t, io, c.want)); e > 1e-3 {
			t.Errorf("forward %s: error %.3g of scale", c.net, e)
		} else {
			t.Logf("forward %s: error %.3g of scale", c.net, e)
		}
	}
	// A wrong input is refused with the tensor's name.
	if code, _, se := novae(t, "forward", "-weights", w, "-net", "dit", "-input", zin); code == 0 || !strings.Contains(se, `no tensor "x"`) {
		t.Errorf("forward with a wrong input: exit %d, %s", code, se)
	}
}
