package model_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"novae/model"
	"novae/shaders/ref"
)

// TestFuseLinears: Linears stacked by FuseLinears compute exactly what they
// computed apart, for every weight kind, on both backends; on a GPU whose
// bindings hold only some of them the stack is cut into runs that fit, and a
// weight of another kind starts a new run.
func TestFuseLinears(t *testing.T) {
	const M, K = 2, 16
	ns := []int{6, 10, 4, 8, 2}
	e := gpu.E
	for _, kind := range []string{"f32", "f16", "int8", "int4", "mixed"} {
		for _, limit := range []uint64{0, 10 * K * 4} { // 0: the device's own
			for _, b := range backends() {
				if limit != 0 && (b != model.Backend(gpu) || kind != "f32") {
					continue // the reference has no limit; f32 weights are the largest
				}
				name := fmt.Sprintf("%s/limit=%d/%s", kind, limit, b.Name())
				t.Run(name, func(t *testing.T) {
					if limit != 0 {
						saved := e.Limits
						e.Limits.MaxBinding = limit
						defer func() { e.Limits = saved }()
					}
					rng := rand.New(rand.NewPCG(uint64(len(name)), 7))
					x := make([]float32, M*K)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					var ws []model.Weight
					var bs []model.Tensor
					var want []float32 // [M, ΣN], column blocks per Linear
					wantCols := make([][]float32, len(ns))
					for i, n := range ns {
						k := kind
						if kind == "mixed" {
							k = []string{"f32", "f16", "f16", "int8", "f32"}[i]
						}
						h := hostWeight(rng, fmt.Sprint("w", i), k, n, K)
						deq, err := h.Dequantize()
						if err != nil {
							t.Fatal(err)
						}
						bias := make([]float32, n)
						for j := range bias {
							bias[j] = float32(rng.NormFloat64())
						}
						ws = append(ws, b.UploadWeight(h))
						bs = append(bs, b.Upload(bias, n))
						wantCols[i] = make([]float32, M*n)
						ref.MatMul(wantCols[i], x, deq, bias, nil, M, K, n, 0, false)
					}
					for m := range M {
						for i, n := range ns {
							want = append(want, wantCols[i][m*n:(m+1)*n]...)
						}
					}
					fused, err := b.FuseLinears(ws, bs)
					if err != nil {
						t.Fatal(err)
					}
					xt := b.Upload(x, M, K)
					got := make([]float32, 0, len(want))
					cols := make([][]float32, len(fused))
					count := 0
					for g, f := range fused {
						rows := f.W.Dims()[0]
						y := b.Alloc(M, rows)
						b.Linear(y, xt, f.W, f.B, model.Epilogue{})
						if cols[g], err = b.Read(y); err != nil {
							t.Fatal(err)
						}
						count += f.Count
					}
					if count != len(ns) {
						t.Fatalf("%d runs stand for %d Linears, want %d", len(fused), count, len(ns))
					}
					for m := range M {
						for g, f := range fused {
							rows := f.W.Dims()[0]
							got = append(got, cols[g][m*rows:(m+1)*rows]...)
						}
					}
					runs := 1 // everything stacks
					switch {
					case limit != 0:
						runs = 4 // 6 | 10 | 4 | 8 2 rows of 64 bytes within 640
					case kind == "mixed" && b == model.Backend(gpu):
						runs = 4 // f32 | f16 f16 | int8 | f32
					}
					if len(fused) != runs {
						t.Errorf("%d runs, want %d", len(fused), runs)
					}
					for i := range want {
						if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
							t.Fatalf("element %d: got %v, want %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// hostWeight is a random [n,k] weight stored as kind (int8: a scale per
// row; int4: groups of 4).
func hostWeight(rng *rand.Rand, name, kind string, n, k int) model.HostWeight {
	h := model.HostWeight{Name: name, Out: n, In: k, Kind: kind}
	switch kind {
	case "f32":
		h.F32 = make([]float32, n*k)
		for i := range h.F32 {
			h.F32[i] = float32(rng.NormFloat64()) * 0.3
		}
	case "f16":
		h.Raw = make([]byte, 2*n*k)
		for i := 0; i < len(h.Raw); i += 2 {
			h.Raw[i], h.Raw[i+1] = byte(rng.IntN(256)), byte(0x30+rng.IntN(8)) // |w| in [2⁻³, 2⁻¹)
		}
	case "int8":
		h.Raw = make([]byte, n*k)
		for i := range h.Raw {
			h.Raw[i] = byte(rng.IntN(256))
		}
		h.Scales = make([]float32, n)
		for i := range h.Scales {
			h.Scales[i] = 0.01 * float32(1+rng.IntN(3))
		}
	case "int4":
		h.Group = 4
		h.Raw = make([]byte, n*k/2)
		for i := range h.Raw {
			h.Raw[i] = byte(rng.IntN(256))
		}
		h.Scales = make([]float32, n*k/4)
		for i := range h.Scales {
			h.Scales[i] = 0.05 * float32(1+rng.IntN(3))
		}
	}
	return h
}
