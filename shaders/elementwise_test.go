package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// Elementwise tolerances: exact (0) where the GPU does the same single f32
// operation as ref (Add, Scale, AddRowVector, the layout ops); 1e-6 abs +
// 1e-6 rel where a compiler may fuse a multiply-add or the GPU's exp and
// division are a few ulp off (Axpy, EulerStep, CFG, Swish, SwiGLU,
// Normalize).

var ewSizes = []int{1, 7, 1000, 256*392 + 3}

// ewRun uploads ins, runs op on the uploaded tensors (out is the index of
// the output among them, or -1 for a fresh tensor of n elements), and
// returns the output.
func ewRun(t *testing.T, n int, ins [][]float32, out int, op func(ts []*shaders.Tensor, y *shaders.Tensor)) []float32 {
	t.Helper()
	ts := make([]*shaders.Tensor, len(ins))
	for i, v := range ins {
		ts[i] = eng.Upload(v, len(v))
	}
	var y *shaders.Tensor
	if out >= 0 {
		y = ts[out]
	} else {
		y = eng.Empty(shaders.F32, n)
		defer y.Release()
	}
	op(ts, y)
	got := read(t, y)
	for _, tt := range ts {
		tt.Release()
	}
	return got
}

func TestAdd(t *testing.T) {
	for _, n := range ewSizes {
		rng := seeded(fmt.Sprint("add", n))
		a, b := randn(rng, n, 1), randn(rng, n, 1)
		want := make([]float32, n)
		ref.Add(want, a, b)
		twice := make([]float32, n)
		ref.Add(twice, a, a)
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{a, b}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Add(y, ts[0], ts[1]) })
			check(t, "add", got, want, 0, 0)
		})
		t.Run(fmt.Sprintf("n=%d,y=a", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{a, b}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Add(y, y, ts[1]) })
			check(t, "add", got, want, 0, 0)
		})
		t.Run(fmt.Sprintf("n=%d,y=b", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{a, b}, 1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Add(y, ts[0], y) })
			check(t, "add", got, want, 0, 0)
		})
		t.Run(fmt.Sprintf("n=%d,a=b", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{a}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Add(y, ts[0], ts[0]) })
			check(t, "add", got, twice, 0, 0)
		})
	}
}

func TestScale(t *testing.T) {
	for _, n := range ewSizes {
		rng := seeded(fmt.Sprint("scale", n))
		x := randn(rng, n, 1)
		want := make([]float32, n)
		ref.Scale(want, x, -0.37)
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{x}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Scale(y, ts[0], -0.37) })
			check(t, "scale", got, want, 0, 0)
		})
		t.Run(fmt.Sprintf("n=%d,inplace", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{x}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Scale(y, y, -0.37) })
			check(t, "scale", got, want, 0, 0)
		})
	}
}

// TestScaleFoldedGrid: 16.8M elements need more than 65535 workgroups of
// 256, so the grid is folded into 2-D (grid1 + flat_wg).
func TestScaleFoldedGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("67 MB round trip")
	}
	n := 65535*256 + 77
	x := randn(seeded("fold"), n, 1)
	want := make([]float32, n)
	ref.Scale(want, x, 3)
	got := ewRun(t, n, [][]float32{x}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Scale(y, y, 3) })
	check(t, fmt.Sprintf("scale n=%d", n), got, want, 0, 0)
}

func TestAxpy(t *testing.T) {
	for _, n := range ewSizes {
		rng := seeded(fmt.Sprint("axpy", n))
		x, y0 := randn(rng, n, 1), randn(rng, n, 1)
		for _, ab := range [][2]float32{{0.5, -2}, {1.25, 0}} {
			t.Run(fmt.Sprintf("n=%d,a=%g,b=%g", n, ab[0], ab[1]), func(t *testing.T) {
				want := append([]float32(nil), y0...)
				ref.Axpy(want, x, ab[0], ab[1])
				got := ewRun(t, n, [][]float32{x, y0}, 1, func(ts []*shaders.Tensor, y *shaders.Tensor) {
					eng.Axpy(y, ts[0], ab[0], ab[1])
				})
				check(t, "axpy", got, want, 1e-6, 1e-6)
			})
		}
	}
}

func TestEulerStep(t *testing.T) {
	for _, n := range ewSizes {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			rng := seeded(fmt.Sprint("euler", n))
			z, v := randn(rng, n, 1), randn(rng, n, 2)
			want := append([]float32(nil), z...)
			ref.EulerStep(want, v, 0.0731)
			got := ewRun(t, n, [][]float32{z, v}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.EulerStep(y, ts[1], 0.0731) })
			check(t, "euler", got, want, 1e-6, 1e-6)
		})
	}
}

func TestCFG(t *testing.T) {
	for _, n := range ewSizes {
		rng := seeded(fmt.Sprint("cfg", n))
		vc, vu := randn(rng, n, 1), randn(rng, n, 1)
		for _, w := range []float32{1, 4} {
			want := make([]float32, n)
			ref.CFG(want, vc, vu, w)
			t.Run(fmt.Sprintf("n=%d,w=%g", n, w), func(t *testing.T) {
				got := ewRun(t, n, [][]float32{vc, vu}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.CFG(y, ts[0], ts[1], w) })
				check(t, "cfg", got, want, 1e-6, 1e-6)
			})
			t.Run(fmt.Sprintf("batched,n=%d,w=%g", n, w), func(t *testing.T) {
				vcu := append(append([]float32(nil), vc...), vu...)
				wantB := make([]float32, n)
				ref.CFGBatched(wantB, vcu, w)
				check(t, "ref batched", wantB, want, 0, 0)
				got := ewRun(t, n, [][]float32{vcu}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.CFGBatched(y, ts[0], w) })
				check(t, "cfg batched", got, want, 1e-6, 1e-6)
			})
		}
		t.Run(fmt.Sprintf("vc=vu,n=%d", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{vu}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.CFG(y, ts[0], ts[0], 4) })
			check(t, "cfg", got, vu, 0, 0)
		})
	}
}

func TestSwish(t *testing.T) {
	for _, n := range ewSizes {
		rng := seeded(fmt.Sprint("swish", n))
		x := randn(rng, n, 4)
		want := make([]float32, n)
		ref.Swish(want, x)
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{x}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Swish(y, ts[0]) })
			check(t, "swish", got, want, 1e-6, 1e-6)
		})
		t.Run(fmt.Sprintf("n=%d,inplace", n), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{x}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.Swish(y, y) })
			check(t, "swish", got, want, 1e-6, 1e-6)
		})
	}
}

func TestSwiGLU(t *testing.T) {
	for _, mh := range [][2]int{{1, 1}, {7, 5}, {261, 1536}} {
		M, H := mh[0], mh[1]
		n := M * H
		rng := seeded(fmt.Sprint("swiglu", n))
		a, b := randn(rng, n, 3), randn(rng, n, 1)
		want := make([]float32, n)
		ref.SwiGLU(want, a, b)
		t.Run(fmt.Sprintf("M=%d,H=%d", M, H), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{a, b}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.SwiGLU(y, ts[0], ts[1]) })
			check(t, "swiglu", got, want, 1e-6, 1e-6)
		})
		t.Run(fmt.Sprintf("M=%d,H=%d,y=a", M, H), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{a, b}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.SwiGLU(y, y, ts[1]) })
			check(t, "swiglu", got, want, 1e-6, 1e-6)
		})
		t.Run(fmt.Sprintf("packed,M=%d,H=%d", M, H), func(t *testing.T) {
			ab := make([]float32, 2*n) // rows [a | b]
			for m := range M {
				copy(ab[m*2*H:], a[m*H:(m+1)*H])
				copy(ab[m*2*H+H:], b[m*H:(m+1)*H])
			}
			wantP := make([]float32, n)
			ref.SwiGLUPacked(wantP, ab, H)
			check(t, "ref packed", wantP, want, 0, 0)
			got := ewRun(t, n, [][]float32{ab}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.SwiGLUPacked(y, ts[0], H) })
			check(t, "swiglu packed", got, want, 1e-6, 1e-6)
		})
	}
}

func TestConcatChannels(t *testing.T) {
	for _, c := range [][3]int{{1, 1, 1}, {7, 5, 3}, {2 * 256, 384, 8}} {
		rows, C1, C2 := c[0], c[1], c[2]
		t.Run(fmt.Sprintf("rows=%d,C1=%d,C2=%d", rows, C1, C2), func(t *testing.T) {
			rng := seeded(fmt.Sprint("concat", c))
			a, b := randn(rng, rows*C1, 1), randn(rng, rows*C2, 1)
			want := make([]float32, rows*(C1+C2))
			ref.ConcatChannels(want, a, b, C1, C2)
			got := ewRun(t, len(want), [][]float32{a, b}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) {
				eng.ConcatChannels(y, ts[0], ts[1], C1, C2)
			})
			check(t, "concat", got, want, 0, 0)
		})
	}
}

func TestTranspose(t *testing.T) {
	for _, c := range [][3]int{{1, 1, 1}, {1, 17, 33}, {2, 256, 392}, {3, 9, 16}} {
		B, R, C := c[0], c[1], c[2]
		t.Run(fmt.Sprintf("B=%d,R=%d,C=%d", B, R, C), func(t *testing.T) {
			x := randn(seeded(fmt.Sprint("tr", c)), B*R*C, 1)
			want := make([]float32, len(x))
			ref.Transpose(want, x, B, R, C)
			xt := eng.Upload(x, B, R, C)
			yt := eng.Empty(shaders.F32, B, C, R)
			back := eng.Empty(shaders.F32, B, R, C)
			eng.Transpose(yt, xt, B, R, C)
			check(t, "transpose", read(t, yt), want, 0, 0)
			eng.Transpose(back, yt, B, C, R)
			check(t, "transpose back", read(t, back), x, 0, 0)
			for _, tt := range []*shaders.Tensor{xt, yt, back} {
				tt.Release()
			}
		})
	}
}

func TestAddRowVector(t *testing.T) {
	for _, c := range []struct {
		name       string
		B, T, C, L int
		G          int
	}{
		{"bias", 2, 7, 5, 5, 1},
		{"per-batch", 3, 7, 5, 5, 3},
		{"pos-embed", 2, 256, 392, 256 * 392, 1},
		{"per-batch", 2, 256, 1152, 1152, 2},
	} {
		n := c.B * c.T * c.C
		rng := seeded(fmt.Sprint("row", c))
		x, v := randn(rng, n, 1), randn(rng, c.G*c.L, 1)
		want := make([]float32, n)
		ref.AddRowVector(want, x, v, c.L)
		t.Run(fmt.Sprintf("%s,B=%d,T=%d,C=%d,v=[%d,%d]", c.name, c.B, c.T, c.C, c.G, c.L), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{x, v}, -1, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.AddRowVector(y, ts[0], ts[1], c.L) })
			check(t, "add_row", got, want, 0, 0)
		})
		t.Run(fmt.Sprintf("%s,B=%d,T=%d,C=%d,v=[%d,%d],inplace", c.name, c.B, c.T, c.C, c.G, c.L), func(t *testing.T) {
			got := ewRun(t, n, [][]float32{x, v}, 0, func(ts []*shaders.Tensor, y *shaders.Tensor) { eng.AddRowVector(y, y, ts[1], c.L) })
			check(t, "add_row", got, want, 0, 0)
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range [][2]int{{1, 1}, {7, 5}, {2 * 256, 392}} {
		rows, C := c[0], c[1]
		n := rows * C
		rng := seeded(fmt.Sprint("norm", c))
		x, mean, std := randn(rng, n, 2), randn(rng, C, 1), make([]float32, C)
		for i := range std {
			std[i] = 0.1 + abs32(randn(rng, 1, 2)[0])
		}
		norm, denorm := make([]float32, n), make([]float32, n)
		ref.Normalize(norm, x, mean, std, C)
		ref.Denormalize(denorm, x, mean, std, C)
		for _, inplace := range []bool{false, true} {
			out := -1
			if inplace {
				out = 0
			}
			t.Run(fmt.Sprintf("rows=%d,C=%d,inplace=%v", rows, C, inplace), func(t *testing.T) {
				got := ewRun(t, n, [][]float32{x, mean, std}, out, func(ts []*shaders.Tensor, y *shaders.Tensor) {
					src := ts[0]
					if inplace {
						src = y
					}
					eng.Normalize(y, src, ts[1], ts[2], C)
				})
				check(t, "normalize", got, norm, 1e-6, 1e-6)
				got = ewRun(t, n, [][]float32{x, mean, std}, out, func(ts []*shaders.Tensor, y *shaders.Tensor) {
					src := ts[0]
					if inplace {
						src = y
					}
					eng.Denormalize(y, src, ts[1], ts[2], C)
				})
				check(t, "denormalize", got, denorm, 1e-6, 1e-6)
			})
		}
	}
}

// TestSamplerStepOneSubmit records what a sampling step does after the DiT
// (guidance, Euler update, back to the decoder's latent) as one command
// buffer, the way the model runs it, and compares the chain with ref.
func TestSamplerStepOneSubmit(t *testing.T) {
	const B, T, C = 2, 256, 392
	n := B * T * C
	rng := seeded("step")
	z0, vcu := randn(rng, n, 1), randn(rng, 2*n, 1)
	mean, std := randn(rng, C, 1), make([]float32, C)
	for i := range std {
		std[i] = 0.5 + abs32(randn(rng, 1, 1)[0])
	}
	v := make([]float32, n)
	ref.CFGBatched(v, vcu, 4)
	z := append([]float32(nil), z0...)
	ref.EulerStep(z, v, 0.04)
	x := make([]float32, n)
	ref.Denormalize(x, z, mean, std, C)
	want := make([]float32, n)
	ref.Transpose(want, x, B, T, C)

	zt, vcut := eng.Upload(z0, B, T, C), eng.Upload(vcu, 2*B, T, C)
	mt, st := eng.Upload(mean, C), eng.Upload(std, C)
	vt, xt, yt := eng.Empty(shaders.F32, B, T, C), eng.Empty(shaders.F32, B, T, C), eng.Empty(shaders.F32, B, C, 16, 16)
	if err := eng.Submit(); err != nil {
		t.Fatal(err)
	}
	s0 := eng.Submits
	eng.CFGBatched(vt, vcut, 4)
	eng.EulerStep(zt, vt, 0.04)
	eng.Denormalize(xt, zt, mt, st, C)
	eng.Transpose(yt, xt, B, T, C)
	got := read(t, yt)
	if n := eng.Submits - s0; n != 1 {
		t.Errorf("the step and its readback took %d submits, want 1", n)
	}
	check(t, "step", got, want, 1e-5, 1e-5)
	for _, tt := range []*shaders.Tensor{zt, vcut, mt, st, vt, xt, yt} {
		tt.Release()
	}
}
