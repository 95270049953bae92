package main

// The commands that run networks, end to end: convert the PyTorch fixtures,
// then check forward and sample against what the PyTorch twins computed
// (tools/reference/make_fixtures.py).

import (
	"fmt"
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

// relErr is max|got−want| / max|want|. NaN or Inf on either side and a
// length mismatch are errors: math.Max alone would let a NaN through.
func relErr(got, want []float32) (float64, error) {
	if len(got) != len(want) {
		return 0, fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	var scale, worst float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !finite(g) || !finite(w) {
			return 0, fmt.Errorf("[%d]: got %g, want %g (not finite)", i, g, w)
		}
		scale = math.Max(scale, math.Abs(w))
		worst = math.Max(worst, math.Abs(g-w))
	}
	if scale == 0 {
		scale = 1 // an all-zero reference: report the absolute error
	}
	return worst / scale, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// near fails t when got is not within tol·max|want| of want (or is not
// finite, or has another length) and logs the measured error otherwise.
func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	e, err := relErr(got, want)
	switch {
	case err != nil:
		t.Errorf("%s: %v", what, err)
	case e > tol:
		t.Errorf("%s: error %.3g of scale, bound %.g", what, e, tol)
	default:
		t.Logf("%s: error %.3g of scale (bound %.g)", what, e, tol)
	}
}

// TestRelErr: the comparison itself rejects what a parity test must never
// pass (NaN, Inf, a truncated output).
func TestRelErr(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"NaN", []float32{1, nan}, []float32{1, 2}},
		{"NaN first", []float32{nan, 2}, []float32{1, 2}},
		{"Inf", []float32{1, inf}, []float32{1, 2}},
		{"NaN reference", []float32{1, 2}, []float32{nan, 2}},
		{"short", []float32{1}, []float32{1, 2}},
		{"long", []float32{1, 2, 3}, []float32{1, 2}},
	} {
		if e, err := relErr(c.got, c.want); err == nil {
			t.Errorf("%s: accepted with error %g", c.name, e)
		}
	}
	if e, err := relErr([]float32{1, 2.5}, []float32{1, 2}); err != nil || e != 0.25 {
		t.Errorf("relErr = %g, %v; want 0.25", e, err)
	}
}

// devices are the backends every running command is tested on.
var devices = []struct {
	name string
	args []string
}{{"webgpu", nil}, {"cpu", []string{"-cpu"}}}

// parityCase is one network's fixture input and its PyTorch twin's output.
type parityCase struct {
	net, input string
	want       []float32
}

// parityCases lists the fixtures of the four networks. The decoder takes z
// as [N,C,h,w]: the fixture's token latent is transposed into dir.
func parityCases(t *testing.T, dir string) []parityCase {
	t.Helper()
	io := td + "ae_tiny_io.safetensors"
	lat := tensor(t, io, "latent")
	z := make([]float32, len(lat))
	ref.Transpose(z, lat, 2, 16, 72)
	zin := filepath.Join(dir, "z.safetensors")
	writeTensor(t, zin, weights.F32Tensor("z", []int{2, 72, 4, 4}, z))
	// The DiT's learn_sigma output: the first C channels are the velocity.
	full := tensor(t, td+"dit_tiny_io.safetensors", "out")
	const C = 72
	var v []float32
	for r := range len(full) / (2 * C) {
		v = append(v, full[r*2*C:r*2*C+C]...)
	}
	return []parityCase{
		{"dino", io, tensor(t, io, "dino")},
		{"residual", io, tensor(t, io, "residual_raw")},
		{"decoder", zin, tensor(t, io, "decoded")},
		{"dit", td + "dit_tiny_io.safetensors", v},
	}
}

func writeTensor(t *testing.T, path string, ts ...weights.Tensor) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.Write(f, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// forward runs `novae forward` on weights w and returns its "out".
func forward(t *testing.T, w string, c parityCase, dev []string) []float32 {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.safetensors")
	args := append([]string{"forward", "-weights", w, "-net", c.net, "-input", c.input, "-output", out}, dev...)
	if code, so, se := novae(t, args...); code != 0 {
		t.Fatalf("forward -net %s %v: exit %d\n%s%s", c.net, dev, code, so, se)
	}
	return tensor(t, out, "out")
}

// TestForwardDiT: `novae forward -net dit` on the fixture input matches the
// PyTorch output's velocity half (1e-3 of scale), on WebGPU and with -cpu.
func TestForwardDiT(t *testing.T) {
	w := convertTiny(t)
	c := parityCases(t, t.TempDir())[3]
	for _, d := range devices {
		near(t, "forward dit "+d.name, forward(t, w, c, d.args), c.want, 1e-3)
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
	writeTensor(t, noise, weights.F32Tensor("noise", []int{2, 16, 72}, tensor(t, fx, "noise")))
	y := tensor(t, fx, "y")
	out := filepath.Join(dir, "s.png")
	code, so, se := novae(t, "sample", "-weights", w, "-noise", noise, "-class", fmt.Sprintf("%d,%d", int(y[0]), int(y[1])),
		"-steps", "3", "-cfg", "4", "-shift", "0.15", "-schedule", "constant", "-q", "-out", out)
	if code != 0 {
		t.Fatalf("sample: exit %d\n%s%s", code, so, se)
	}
	want := make([]byte, 2*8*8*4)
	ref.ToRGBA8(want, tensor(t, fx, "euler_decoded"), 2, 8, 8)
	rgba := readPNG(t, out)
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
// against the PyTorch twins' outputs (1e-3 of scale), on WebGPU and with -cpu.
func TestForwardEncodersDecoder(t *testing.T) {
	w := convertTiny(t)
	dir := t.TempDir()
	cases := parityCases(t, dir)
	for _, c := range cases[:3] {
		for _, d := range devices {
			near(t, "forward "+c.net+" "+d.name, forward(t, w, c, d.args), c.want, 1e-3)
		}
	}
	// A wrong input is refused with the tensor's name.
	if code, _, se := novae(t, "forward", "-weights", w, "-net", "dit", "-input", cases[2].input); code == 0 || !strings.Contains(se, `no tensor "x"`) {
		t.Errorf("forward with a wrong input: exit %d, %s", code, se)
	}
}

// TestForwardInt8: int8 weights against the f32 PyTorch outputs, all four
// networks on both backends, which must also agree to 1e-5 of scale (they
// compute with the same dequantized values).
//
// -quant int8 (Linear weights; the decoder, all convs, stays f32): every
// network within the 2e-2.
// -quant int8 -quant-convs (also every conv, one scale per output channel):
// dino, residual and dit within 2e-2; the decoder, all convs, is 3.1% off
// its f32 output, and PyTorch quantizing the same way is off by the same
// 3.1% (tools/reference/make_extra_fixtures.py), so there it is held to
// PyTorch's int8-conv output at 1e-3 and to f32 at 4e-2.
func TestForwardInt8(t *testing.T) {
	decInt8 := tensor(t, td+"ae_tiny_int8conv.safetensors", "decoded")
	for _, q := range []struct {
		name  string
		args  []string
		convs bool
	}{{"int8", []string{"-quant", "int8"}, false}, {"int8+convs", []string{"-quant", "int8", "-quant-convs"}, true}} {
		w := convertTiny(t, q.args...)
		checkInt8Storage(t, w, q.convs)
		for _, c := range parityCases(t, t.TempDir()) {
			var outs [][]float32
			for _, d := range devices {
				got := forward(t, w, c, d.args)
				what := fmt.Sprintf("%s %s %s vs PyTorch f32", q.name, c.net, d.name)
				if q.convs && c.net == "decoder" {
					near(t, what, got, c.want, 4e-2)
					near(t, fmt.Sprintf("%s %s %s vs PyTorch int8 convs", q.name, c.net, d.name), got, decInt8, 1e-3)
				} else {
					near(t, what, got, c.want, 2e-2)
				}
				outs = append(outs, got)
			}
			near(t, fmt.Sprintf("%s %s: webgpu vs cpu", q.name, c.net), outs[0], outs[1], 1e-5)
		}
	}
}

// checkInt8Storage fails unless w stores its Linear weights (and with convs
// its conv weights) as I8: a file silently left in f32 would pass parity.
func checkInt8Storage(t *testing.T, w string, convs bool) {
	t.Helper()
	f, err := weights.Open(w)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{"dit.blocks.0.attn.qkv.weight": true, "encoder.blocks.0.mlp.w1.weight": true,
		"extra_vit.encoder.layers.encoder_layer_0.mlp.0.weight": true,
		"decoder.conv_in.weight":                                convs, "encoder.patch_embed.proj.weight": convs}
	for k, i8 := range want {
		info, ok := f.Info(k)
		if !ok {
			t.Errorf("%s: no tensor %s", w, k)
		} else if (info.DType == weights.I8) != i8 {
			t.Errorf("%s: %s stored as %s, want I8 %v", w, k, info.DType, i8)
		}
	}
}

// TestSampleAndForwardRefuseMisshapen: `sample -noise` with the right number
// of values in the wrong shape, and `forward -net dit` with a class index
// that is not one, are refused naming the problem; nothing is written.
func TestSampleAndForwardRefuseMisshapen(t *testing.T) {
	w := convertTiny(t)
	dir := t.TempDir()
	noise := filepath.Join(dir, "noise.safetensors")
	writeTensor(t, noise, weights.F32Tensor("noise", []int{2, 72, 16}, make([]float32, 2*16*72)))
	out := filepath.Join(dir, "s.png")
	code, so, se := novae(t, "sample", "-weights", w, "-noise", noise, "-class", "1,2", "-steps", "1", "-q", "-out", out)
	if code != 1 || !strings.Contains(se, "noise is [2 72 16], want [2,16,72]") {
		t.Errorf("transposed noise: exit %d\n%s%s", code, so, se)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a PNG was written")
	}
	for _, y := range []float32{1.5, -1, 1e6, float32(math.NaN())} {
		in := filepath.Join(dir, "in.safetensors")
		writeTensor(t, in, weights.F32Tensor("x", []int{1, 16, 72}, make([]float32, 16*72)),
			weights.F32Tensor("t", []int{1}, []float32{0.5}), weights.F32Tensor("y", []int{1}, []float32{y}))
		o := filepath.Join(dir, "out.safetensors")
		code, so, se := novae(t, "forward", "-weights", w, "-net", "dit", "-input", in, "-output", o)
		if code != 1 || !strings.Contains(se, "want a class index") {
			t.Errorf("y = %g: exit %d\n%s%s", y, code, so, se)
		}
		if _, err := os.Stat(o); err == nil {
			t.Errorf("y = %g: an output was written", y)
		}
	}
}
