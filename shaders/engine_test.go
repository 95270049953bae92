package shaders_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// eng is shared by every test: pipelines compile once. No adapter is a
// failure, never a skip (scripts/setup.sh installs mesa-vulkan-drivers).
var eng *shaders.Engine

func TestMain(m *testing.M) {
	var err error
	eng, err = shaders.New(shaders.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: no WebGPU device:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "adapter: %s\n", eng.Adapter)
	// Record whole sequences into one submit, as GPUs run them; the shapes
	// here are small enough for CPU drivers. TestSubmitEvery covers splitting.
	eng.SubmitEvery = 0
	os.Exit(m.Run())
}

func randn(rng *rand.Rand, n int, std float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64()) * std
	}
	return v
}

func seeded(name string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for _, c := range name {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return rand.New(rand.NewPCG(h, 42))
}

// check compares got with want elementwise: |got−want| ≤ atol + rtol·|want|.
// On failure it prints the first pairs, the max errors and the worst index.
func check(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	var maxAbs, maxRel float64
	worst, bad := -1, 0
	var worstExcess float64
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		d := math.Abs(g - w)
		// A NaN or ±Inf on either side fails: a reference that overflowed
		// proves nothing.
		nonFinite := math.IsNaN(g) || math.IsInf(g, 0) || math.IsNaN(w) || math.IsInf(w, 0)
		if nonFinite {
			d = math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
		if w != 0 {
			maxRel = math.Max(maxRel, d/math.Abs(w))
		}
		ex := d - (atol + rtol*math.Abs(w))
		if nonFinite {
			ex = math.Inf(1)
		}
		if ex > 0 {
			bad++
			if worst < 0 || ex > worstExcess {
				worst, worstExcess = i, ex
			}
		}
	}
	if bad == 0 {
		t.Logf("%s: OK, max abs %.3g, max rel %.3g (n=%d)", what, maxAbs, maxRel, len(got))
		return
	}
	var b strings.Builder
	for i := 0; i < 5 && i < len(got); i++ {
		fmt.Fprintf(&b, " [%d] %g vs %g;", i, got[i], want[i])
	}
	t.Errorf("%s: %d of %d outside atol %g + rtol %g; max abs %.3g, max rel %.3g; worst [%d] got %g want %g;%s",
		what, bad, len(got), atol, rtol, maxAbs, maxRel, worst, got[worst], want[worst], b.String())
}

func read(t *testing.T, x *shaders.Tensor) []float32 {
	t.Helper()
	v, err := eng.Read(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestUploadReadRoundTrip(t *testing.T) {
	for _, n := range []int{1, 3, 1000, 1 << 16} {
		v := randn(seeded("rt"), n, 1)
		x := eng.Upload(v, n)
		check(t, fmt.Sprintf("n=%d", n), read(t, x), v, 0, 0)
		w := randn(seeded("rt2"), n, 1)
		eng.Write(x, w) // reuse the buffer
		check(t, fmt.Sprintf("rewrite n=%d", n), read(t, x), w, 0, 0)
		x.Release()
	}
}

// TestRawRoundTrip: f16, int8 and uint8 data go up and come back byte for
// byte at odd lengths (their buffers are padded to whole u32 words), and
// WriteRaw replaces them in place.
func TestRawRoundTrip(t *testing.T) {
	for _, dt := range []shaders.DType{shaders.F16, shaders.I8, shaders.U8} {
		for _, n := range []int{1, 3, 6, 1001} {
			size := n
			if dt == shaders.F16 {
				size = 2 * n
			}
			b := make([]byte, size)
			rng := seeded(fmt.Sprint("raw", dt, n))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			x := eng.UploadRaw(dt, b, n)
			got, err := eng.ReadRaw(x)
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("dtype %v n=%d: read %v (%v), want %v", dt, n, head(got), err, head(b))
			}
			for i := range b {
				b[i] ^= 0x5a
			}
			eng.WriteRaw(x, b)
			if got, err := eng.ReadRaw(x); err != nil || !bytes.Equal(got, b) {
				t.Errorf("dtype %v n=%d: after WriteRaw read %v (%v), want %v", dt, n, head(got), err, head(b))
			}
			x.Release()
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

func TestEmptyReusesReleasedBuffers(t *testing.T) {
	a := eng.Empty(shaders.F32, 7, 9)
	buf := a.Buffer()
	a.Release()
	b := eng.Empty(shaders.F32, 9, 7)
	if b.Buffer() != buf {
		t.Errorf("Empty after Release allocated a new buffer instead of reusing one of the same size")
	}
	b.Release()
}

func TestCompileErrorNamesKernel(t *testing.T) {
	_, err := shaders.Source("matmul", map[string]string{"WKIND": "0"})
	if err == nil || !strings.Contains(err.Error(), "{{GROUP}}") {
		t.Fatalf("unfilled hole not reported: %v", err)
	}
	err = eng.CompileCheck("broken", "@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }")
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("a WGSL compile error must come back as an error naming the kernel, got %v", err)
	}
	// The engine stays usable.
	x := eng.Upload([]float32{1, 2, 3}, 3)
	check(t, "after error", read(t, x), []float32{1, 2, 3}, 0, 0)
}

func TestCopyRegion(t *testing.T) {
	src := eng.Upload([]float32{1, 2, 3, 4, 5, 6}, 6)
	dst := eng.Upload([]float32{0, 0, 0, 0, 0}, 5)
	eng.CopyRegion(dst, 1, src, 3, 3)
	check(t, "copy region", read(t, dst), []float32{0, 4, 5, 6, 0}, 0, 0)
}

// TestSubmitEvery: splitting a sequence into several submissions changes
// nothing in the results.
func TestSubmitEvery(t *testing.T) {
	defer func(v int) { eng.SubmitEvery = v }(eng.SubmitEvery)
	for _, every := range []int{0, 1, 2} {
		eng.SubmitEvery = every
		x := eng.Upload([]float32{1, 2, 3, 4}, 4)
		for range 5 {
			eng.Add(x, x, x)
		}
		check(t, fmt.Sprintf("every=%d", every), read(t, x), []float32{32, 64, 96, 128}, 0, 0)
		x.Release()
	}
}

// TestSubmitFLOP: with SubmitFLOP set, recorded work is submitted whenever
// it reaches the budget (2·M·N·K per matmul), so a long run goes to the GPU in
// bounded pieces, and results do not change.
func TestSubmitFLOP(t *testing.T) {
	defer func(v float64) { eng.SubmitFLOP = v }(eng.SubmitFLOP)
	const M, N, K = 64, 64, 64 // 524,288 FLOP per matmul
	rng := seeded("submitflop")
	xs, ws := randn(rng, M*K, 1), randn(rng, N*K, 0.1)
	want := make([]float32, M*N)
	ref.MatMul(want, xs, ws, nil, nil, M, K, N, 0, false)
	for _, c := range []struct {
		budget  float64
		submits int // 5 matmuls, then the read
	}{{0, 1}, {1e6, 3}, {1, 6}} { // 1 FLOP: each matmul alone, then the read's copy
		eng.SubmitFLOP = c.budget
		x, w := eng.Upload(xs, M, K), shaders.Weight{W: eng.Upload(ws, N, K), Kind: shaders.WF32, N: N, K: K}
		ys := make([]*shaders.Tensor, 5)
		if err := eng.Submit(); err != nil {
			t.Fatal(err)
		}
		s0 := eng.Submits
		for i := range ys {
			ys[i] = eng.Empty(shaders.F32, M, N)
			eng.MatMul(ys[i], x, w, shaders.Epilogue{})
		}
		got := read(t, ys[4])
		if n := eng.Submits - s0; n != c.submits {
			t.Errorf("budget %g FLOP: %d submits for 5 matmuls and a read, want %d", c.budget, n, c.submits)
		}
		check(t, fmt.Sprintf("budget %g", c.budget), got, want, 1e-5, 1e-5)
		for _, y := range append(ys, x, w.W) {
			y.Release()
		}
	}
	if shaders.DefaultSubmitFLOP <= 0 {
		t.Error("no default work budget per submission")
	}
}

// TestBindingLimitRefused: a tensor over the device's binding limit is
// refused with an error naming the kernel and the tensor, and the engine
// stays usable.
func TestCheckFailsOnNonFinite(t *testing.T) {
	for _, c := range []struct{ got, want float32 }{
		{float32(math.NaN()), 1}, {1, float32(math.NaN())}, {float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		ft := &testing.T{}
		done := make(chan struct{})
		go func() { defer close(done); check(ft, "nonfinite", []float32{c.got}, []float32{c.want}, 1, 1) }()
		<-done
		if !ft.Failed() {
			t.Errorf("check(%g vs %g) passed", c.got, c.want)
		}
	}
}

// TestDeviceLoss: a device destroyed under the engine (as a driver reset
// would) makes the next submit and read return a device-lost error instead
// of crashing the process, stays lost, and a new engine works.
func TestDeviceLoss(t *testing.T) {
	e, err := shaders.New(shaders.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := e.Upload([]float32{1, 2, 3}, 3)
	if _, err := e.Read(x); err != nil {
		t.Fatal(err)
	}
	e.Destroy()
	e.Add(x, x, x)
	_, err = e.Read(x)
	if err == nil || !strings.Contains(err.Error(), "lost") {
		t.Fatalf("read after the device was destroyed: %v, want a device-lost error", err)
	}
	t.Logf("after destroy: %v", err)
	e.Scale(x, x, 2)
	if err := e.Sync(); err == nil || !strings.Contains(err.Error(), "lost") {
		t.Fatalf("the loss did not stick: %v", err)
	}
	e2, err := shaders.New(shaders.Options{})
	if err != nil {
		t.Fatal(err)
	}
	y := e2.Upload([]float32{1, 2, 3}, 3)
	e2.Add(y, y, y)
	v, err := e2.Read(y)
	if err != nil || v[2] != 6 {
		t.Fatalf("a new engine after the loss: %v %v", v, err)
	}
}

func TestBindingLimitRefused(t *testing.T) {
	defer func(v uint64) { eng.Limits.MaxBinding = v }(eng.Limits.MaxBinding)
	x := eng.Upload(make([]float32, 4096), 4096).Named("big_activation")
	y := eng.Empty(shaders.F32, 4096).Named("sum")
	eng.Limits.MaxBinding = 1024
	eng.Scale(y, x, 2)
	err := eng.Submit()
	if err == nil || !strings.Contains(err.Error(), "elementwise") || !strings.Contains(err.Error(), "binding limit") ||
		!(strings.Contains(err.Error(), "big_activation") || strings.Contains(err.Error(), "sum")) {
		t.Fatalf("want an error naming the tensor and the limit, got %v", err)
	}
	eng.Limits.MaxBinding = 1 << 30
	eng.Add(y, x, x)
	if _, err := eng.Read(y); err != nil {
		t.Fatalf("engine unusable after a refused dispatch: %v", err)
	}
}

// TestConcatRows: parts of f32, f16 and i8 rows stack byte for byte (the
// last part may end mid-word), and the parts stay intact.
func TestConcatRows(t *testing.T) {
	rng := seeded("concatrows")
	for _, c := range []struct {
		dt    shaders.DType
		shape [][]int
	}{
		{shaders.F32, [][]int{{2, 3}, {1, 3}, {4, 3}}},
		{shaders.F16, [][]int{{3, 2}, {1, 2}, {2, 2}}},
		{shaders.I8, [][]int{{2, 4}, {3, 4}}},
		{shaders.U8, [][]int{{1, 8}, {1, 8}}},
		{shaders.I8, [][]int{{4}, {4}, {3}}}, // the last part ends mid-word
	} {
		t.Run(fmt.Sprintf("%v%v", c.dt, c.shape), func(t *testing.T) {
			var want []byte
			var parts []*shaders.Tensor
			for _, s := range c.shape {
				b := make([]byte, s[0]*max(1, prodTail(s))*c.dt.Size())
				for i := range b {
					b[i] = byte(rng.IntN(256))
				}
				want = append(want, b...)
				parts = append(parts, eng.UploadRaw(c.dt, b, s...))
			}
			got := eng.ConcatRows(parts...)
			raw, err := eng.ReadRaw(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, want) {
				t.Errorf("concat: got % x, want % x", raw, want)
			}
			if got.Shape[0] != len(want)/(max(1, prodTail(c.shape[0]))*c.dt.Size()) {
				t.Errorf("shape %v", got.Shape)
			}
			p0, err := eng.ReadRaw(parts[0])
			if err != nil || !bytes.Equal(p0, want[:len(p0)]) {
				t.Errorf("part 0 changed: % x, %v", p0, err)
			}
			for _, p := range append(parts, got) {
				p.Release()
			}
		})
	}
}

func prodTail(s []int) int {
	n := 1
	for _, d := range s[1:] {
		n *= d
	}
	return n
}
