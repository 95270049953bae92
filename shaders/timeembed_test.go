package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// TestTimestepEmbedding: f32 on the GPU against float64. SVG's t ∈ [0,1]
// (phases ≤ 1): 1e-5 abs. DiT-style t ∈ [0,1000] exercises the sin/cos range
// reduction; the f32 phase t·f is then off by a few ulp of 1000 (f32 exp is a few ulp off
// too, as in PyTorch), so 1e-3.
func TestTimestepEmbedding(t *testing.T) {
	for _, c := range []struct {
		B, dim int
		tmax   float32
		tol    float64
	}{
		{1, 256, 1, 1e-5},
		{7, 256, 1, 1e-5},
		{3, 33, 1, 1e-5}, // odd dim: zero last column
		{5, 256, 1000, 1e-3},
	} {
		t.Run(fmt.Sprintf("B=%d,dim=%d,t<=%g", c.B, c.dim, c.tmax), func(t *testing.T) {
			rng := seeded(fmt.Sprint("temb", c))
			ts := make([]float32, c.B)
			for i := range ts {
				ts[i] = rng.Float32() * c.tmax
			}
			ts[0] = 0
			if c.B > 1 {
				ts[1] = c.tmax
			}
			want := make([]float32, c.B*c.dim)
			ref.TimestepEmbedding(want, ts, c.dim, 10000)
			tt := eng.Upload(ts, c.B)
			out := eng.Empty(shaders.F32, c.B, c.dim)
			eng.TimestepEmbedding(out, tt, c.dim, 10000)
			check(t, "timestep_embedding", read(t, out), want, c.tol, 0)
			tt.Release()
			out.Release()
		})
	}
}
