package shaders_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/x448/float16"

	"novae/shaders"
	"novae/shaders/ref"
)

type mmCase struct {
	M, K, N int
	bias    bool
	act     shaders.Act
	gateB   int // gate rows (batches); 0 = no gate
	acc     bool
}

func (c mmCase) String() string {
	return fmt.Sprintf("M=%d,K=%d,N=%d,bias=%v,act=%v,gateB=%d,acc=%v", c.M, c.K, c.N, c.bias, c.act, c.gateB, c.acc)
}

var mmCases = []mmCase{
	{M: 1, K: 1, N: 1},
	{M: 7, K: 13, N: 5, bias: true},
	{M: 64, K: 64, N: 64},
	{M: 65, K: 33, N: 129, bias: true, act: shaders.ActGELUTanh},
	{M: 37, K: 48, N: 70, bias: true, act: shaders.ActGELUErf},
	{M: 20, K: 64, N: 96, bias: true, act: shaders.ActSiLU, gateB: 2, acc: true},
	{M: 261, K: 96, N: 72, bias: true, gateB: 1, acc: true},
	// Several K steps and splits (K 288 = 18 steps of 16), the adaLN's shape
	// class (2 rows, wide N) and one row past smallm's 16-row block.
	{M: 130, K: 288, N: 136, bias: true, act: shaders.ActGELUTanh, gateB: 2, acc: true},
	{M: 2, K: 192, N: 200, bias: true},
	{M: 17, K: 320, N: 40, act: shaders.ActSiLU},
}

// mmVariants is the ladder every matmul test walks (matmul_reg.go): the
// reference, each register tile and K step, explicit and chosen split-K,
// the small-M kernel (on every shape: it loops over 16-row blocks) and the
// automatic choice.
var mmVariants = []string{
	"matmul", "matmul_reg64x64", "matmul_reg128x64", "matmul_reg64x128",
	"matmul_reg128x128_tk8", "matmul_reg128x128_tk16", "matmul_reg64x64_split3",
	"matmul_splitk", "matmul_smallm", "auto",
}

// mmVariantsShort is the ladder under -short (the browser run of make
// test, where SwiftShader takes seconds to compile each register-tiled
// pipeline): every entry point (main, smallm, splitk_reduce) with both load
// builds; f32 also runs the 128×128 tile. The full ladder runs natively.
var mmVariantsShort = []string{"matmul", "matmul_reg64x64", "matmul_reg64x64_split3", "matmul_smallm"}

// forVariants runs f once per ladder variant, as subtests named by the
// variant (go test -run 'TestMatMul/matmul_smallm/'); extra are added to the
// -short ladder.
func forVariants(t *testing.T, f func(t *testing.T), extra ...string) {
	t.Helper()
	defer eng.SetMatMul("auto")
	vs := mmVariants
	if testing.Short() {
		vs = append(append([]string(nil), mmVariantsShort...), extra...)
	}
	for _, v := range vs {
		if err := eng.SetMatMul(v); err != nil {
			t.Fatal(err)
		}
		t.Run(v, f)
	}
}

// runMM runs the engine with weight w (already in its storage) and returns Y.
func runMM(t *testing.T, c mmCase, x, y0, bias, gate []float32, w shaders.Weight) []float32 {
	xt := eng.Upload(x, c.M, c.K)
	yt := eng.Upload(y0, c.M, c.N)
	ep := shaders.Epilogue{Act: c.act, Accumulate: c.acc}
	if bias != nil {
		ep.Bias = eng.Upload(bias, c.N)
	}
	if gate != nil {
		ep.Gate = eng.Upload(gate, c.gateB, c.N)
	}
	eng.MatMul(yt, xt, w, ep)
	got := read(t, yt)
	for _, tt := range []*shaders.Tensor{xt, yt, ep.Bias, ep.Gate, w.W, w.Scales} {
		tt.Release()
	}
	return got
}

func mmInputs(c mmCase) (x, w, y0, bias, gate []float32) {
	rng := seeded(c.String())
	x = randn(rng, c.M*c.K, 1)
	w = randn(rng, c.N*c.K, 0.2)
	y0 = randn(rng, c.M*c.N, 1)
	if c.bias {
		bias = randn(rng, c.N, 0.5)
	}
	if c.gateB > 0 {
		gate = randn(rng, c.gateB*c.N, 1)
	}
	return
}

func mmWant(c mmCase, x, w, y0, bias, gate []float32) []float32 {
	want := append([]float32(nil), y0...)
	ref.MatMul(want, x, w, bias, gate, c.M, c.K, c.N, int(c.act), c.acc)
	return want
}

// TestMatMul: f32 weights. Tolerance 1e-5 rel + 1e-5 abs (sums of ≤100
// products of O(1) values; the GPU sums in a different order).
func TestMatMul(t *testing.T) {
	forVariants(t, func(t *testing.T) {
		for _, c := range mmCases {
			t.Run(c.String(), func(t *testing.T) {
				x, w, y0, bias, gate := mmInputs(c)
				wt := shaders.Weight{W: eng.Upload(w, c.N, c.K), Kind: shaders.WF32, N: c.N, K: c.K}
				got := runMM(t, c, x, y0, bias, gate, wt)
				check(t, "matmul", got, mmWant(c, x, w, y0, bias, gate), 1e-5, 1e-5)
			})
		}
	}, "matmul_reg128x128_tk16")
}

// TestMatMulF16: f16 storage, f32 math. The reference uses the same rounded
// weights, so only summation order differs: 1e-5.
func TestMatMulF16(t *testing.T) {
	forVariants(t, func(t *testing.T) {
		for _, c := range mmCases {
			t.Run(c.String(), func(t *testing.T) {
				x, w, y0, bias, gate := mmInputs(c)
				h := make([]uint16, len(w))
				raw := make([]byte, 2*len(w))
				for i, v := range w {
					h[i] = float16.Fromfloat32(v).Bits()
					raw[2*i], raw[2*i+1] = byte(h[i]), byte(h[i]>>8)
				}
				wt := shaders.Weight{W: eng.UploadRaw(shaders.F16, raw, c.N, c.K), Kind: shaders.WF16, N: c.N, K: c.K}
				got := runMM(t, c, x, y0, bias, gate, wt)
				check(t, "matmul_f16w", got, mmWant(c, x, ref.DequantF16(h), y0, bias, gate), 1e-5, 1e-5)
			})
		}
	})
}

// quantize8 is a straightforward symmetric quantizer for the test data.
func quantize8(w []float32, N, K, group int) ([]int8, []float32) {
	q := make([]int8, len(w))
	per := K
	if group > 0 {
		per = group
	}
	scales := make([]float32, N*K/per)
	for b := range scales {
		var mx float32
		for i := b * per; i < (b+1)*per; i++ {
			mx = max(mx, abs32(w[i]))
		}
		s := mx / 127
		scales[b] = s
		for i := b * per; i < (b+1)*per; i++ {
			if s > 0 {
				q[i] = int8(max(-127, min(127, roundf(w[i]/s))))
			}
		}
	}
	return q, scales
}

func quantize4(w []float32, N, K, group int) ([]byte, []float32) {
	packed := make([]byte, len(w)/2)
	scales := make([]float32, N*K/group)
	for b := range scales {
		var mx float32
		for i := b * group; i < (b+1)*group; i++ {
			mx = max(mx, abs32(w[i]))
		}
		s := mx / 7
		scales[b] = s
		for i := b * group; i < (b+1)*group; i++ {
			q := 0
			if s > 0 {
				q = max(-8, min(7, roundf(w[i]/s)))
			}
			packed[i/2] |= byte(q+8) << (4 * (i % 2))
		}
	}
	return packed, scales
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func roundf(v float32) int {
	if v < 0 {
		return -int(-v + 0.5)
	}
	return int(v + 0.5)
}

// TestMatMulInt8: per-row and per-group scales (16, 32, 64 where K allows;
// -short: row and 16, the same code paths). The reference dequantizes the
// same integers, so the tolerance is still summation order: 1e-5.
func TestMatMulInt8(t *testing.T) {
	forVariants(t, func(t *testing.T) {
		for _, c := range mmCases {
			for _, g := range []int{0, 16, 32, 64} {
				if g > 0 && c.K%g != 0 || testing.Short() && g > 16 {
					continue
				}
				t.Run(fmt.Sprintf("%v,group=%d", c, g), func(t *testing.T) {
					x, w, y0, bias, gate := mmInputs(c)
					q, s := quantize8(w, c.N, c.K, g)
					raw := make([]byte, len(q))
					for i, v := range q {
						raw[i] = byte(v)
					}
					wt := shaders.Weight{W: eng.UploadRaw(shaders.I8, raw, c.N, c.K), Scales: eng.Upload(s, len(s)),
						Kind: shaders.WInt8, Group: g, N: c.N, K: c.K}
					got := runMM(t, c, x, y0, bias, gate, wt)
					check(t, "matmul_int8", got, mmWant(c, x, ref.DequantInt8(q, s, c.N, c.K, g), y0, bias, gate), 1e-5, 1e-5)
				})
			}
		}
	})
}

// TestMatMulInt4: per-group scales (groups 32 and 64 where K allows, 16 for
// the small shapes).
func TestMatMulInt4(t *testing.T) {
	forVariants(t, func(t *testing.T) {
		for _, c := range mmCases {
			for _, g := range []int{16, 32, 64} {
				if c.K%g != 0 || (testing.Short() && g != 16) { // -short: one group (the same code path)
					continue
				}
				t.Run(fmt.Sprintf("%v,group=%d", c, g), func(t *testing.T) {
					x, w, y0, bias, gate := mmInputs(c)
					p, s := quantize4(w, c.N, c.K, g)
					wt := shaders.Weight{W: eng.UploadRaw(shaders.U8, p, c.N, c.K/2), Scales: eng.Upload(s, len(s)),
						Kind: shaders.WInt4, Group: g, N: c.N, K: c.K}
					got := runMM(t, c, x, y0, bias, gate, wt)
					check(t, "matmul_int4", got, mmWant(c, x, ref.DequantInt4(p, s, c.N, c.K, g), y0, bias, gate), 1e-5, 1e-5)
				})
			}
		}
	})
}

// TestMatMulGateView: the gate is chunk 1 of a [B, 3N] tensor, as the DiT's
// gates are chunks of its adaLN output.
func TestMatMulGateView(t *testing.T) {
	forVariants(t, func(t *testing.T) {
		const M, K, N, B = 10, 16, 8, 2
		rng := seeded("gateview")
		x, w, y0, mod := randn(rng, M*K, 1), randn(rng, N*K, 0.3), randn(rng, M*N, 1), randn(rng, B*3*N, 1)
		want := append([]float32(nil), y0...)
		ref.MatMulGate(want, x, w, nil, mod, N, 3*N, B, M, K, N, ref.ActNone, true)
		xt, yt, mt := eng.Upload(x, M, K), eng.Upload(y0, M, N), eng.Upload(mod, B, 3*N)
		wt := shaders.Weight{W: eng.Upload(w, N, K), Kind: shaders.WF32, N: N, K: K}
		eng.MatMul(yt, xt, wt, shaders.Epilogue{Gate: mt, GateOff: N, GateStride: 3 * N, GateRows: B, Accumulate: true})
		check(t, "matmul gate view", read(t, yt), want, 1e-5, 1e-5)
	})
}

// TestMatMulTune: the "tune" variant measures every candidate once per
// shape, then keeps the fastest; results must still match the reference
// (with accumulate: tuning runs write to scratch, never to Y).
func TestMatMulTune(t *testing.T) {
	defer eng.SetMatMul("auto")
	if err := eng.SetMatMul("tune"); err != nil {
		t.Fatal(err)
	}
	c := mmCase{M: 20, K: 64, N: 96, bias: true, act: shaders.ActSiLU, gateB: 2, acc: true}
	for i := range 2 { // tuned, then cached
		x, w, y0, bias, gate := mmInputs(c)
		wt := shaders.Weight{W: eng.Upload(w, c.N, c.K), Kind: shaders.WF32, N: c.N, K: c.K}
		got := runMM(t, c, x, y0, bias, gate, wt)
		check(t, fmt.Sprintf("matmul tune (call %d)", i+1), got, mmWant(c, x, w, y0, bias, gate), 1e-5, 1e-5)
	}
	res := eng.TunedMatMul(c.M, c.N, c.K, shaders.WF32, 0, true)
	if runtime.GOOS == "js" {
		return // the browser has no tuning: "tune" is the automatic choice there
	}
	if len(res) < 3 {
		t.Fatalf("tuning measured %d candidates, want several", len(res))
	}
	for _, r := range res[:3] {
		t.Logf("fastest: %v", r)
	}
}

// BenchmarkMatMulSmallModel walks the ladder at the default digits model's
// DiT shapes (CFG pair, 64 tokens, hidden 160): on CPU rasterisers
// (lavapipe, SwiftShader) the best variant differs from a GPU's.
func BenchmarkMatMulSmallModel(b *testing.B) {
	defer eng.SetMatMul("auto")
	for _, s := range [][3]int{{128, 480, 160}, {128, 640, 160}, {128, 160, 640}, {2, 960, 160}} {
		M, N, K := s[0], s[1], s[2]
		rng := seeded(fmt.Sprint(s))
		xt, yt := eng.Upload(randn(rng, M*K, 1), M, K), eng.Empty(shaders.F32, M, N)
		w := shaders.Weight{W: eng.Upload(randn(rng, N*K, 0.1), N, K), Kind: shaders.WF32, N: N, K: K}
		for _, v := range []string{"matmul", "matmul_reg64x64", "matmul_smallm", "auto"} {
			b.Run(fmt.Sprintf("M=%d,N=%d,K=%d/%s", M, N, K, v), func(b *testing.B) {
				if err := eng.SetMatMul(v); err != nil {
					b.Fatal(err)
				}
				run := func() {
					eng.MatMul(yt, xt, w, shaders.Epilogue{})
					if err := eng.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				run()
				for b.Loop() {
					run()
				}
				b.ReportMetric(2*float64(M*N*K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		xt.Release()
		yt.Release()
		w.W.Release()
	}
}
