package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// Norm tolerances: 1e-5 abs + 1e-5 rel. Each output is (x − mean)·rstd of
// O(1) values; the kernels keep every rounding to a few f32 ulps (corrected
// two-pass statistics, x − mean taken against the first mean where it is
// exact), and the reference computes the statistics in float64.

type lnCase struct {
	T, C        int     // rows, row length
	gamma, beta bool    // affine parts present
	eps         float32 // 1e-5 DINOv3 and qk-norm, 1e-6 DiT and the residual ViT
	offset      float32 // added to x: a row mean far from 0
	inPlace     bool    // y is x
}

func (c lnCase) String() string {
	s := fmt.Sprintf("T=%d,C=%d,gamma=%v,beta=%v,eps=%g", c.T, c.C, c.gamma, c.beta, c.eps)
	if c.offset != 0 {
		s += fmt.Sprintf(",offset=%g", c.offset)
	}
	if c.inPlace {
		s += ",inplace"
	}
	return s
}

var lnCases = []lnCase{
	{T: 1, C: 1, gamma: true, beta: true, eps: 1e-5},
	{T: 257, C: 3, eps: 1e-6},
	{T: 5, C: 257, gamma: true, eps: 1e-5},
	{T: 3, C: 7, beta: true, eps: 1e-5, inPlace: true},
	{T: 7, C: 384, gamma: true, beta: true, eps: 1e-5},   // DINOv3 norm1/norm2/norm
	{T: 261, C: 384, gamma: true, beta: true, eps: 1e-5}, // DINOv3, all 261 tokens
	{T: 17, C: 384, gamma: true, beta: true, eps: 1e-6},  // residual ViT
	{T: 17, C: 392, eps: 1e-6},                           // the latent width
	{T: 7, C: 1152, eps: 1e-6},                           // SVG-XL norm1/norm2
	{T: 7, C: 1152, eps: 1e-6, offset: 100},              // mean ≫ std
	{T: 9, C: 1152, gamma: true, beta: true, eps: 1e-6, inPlace: true},
	{T: 70001, C: 3, eps: 1e-6}, // more rows than a grid dimension holds
}

func TestLayerNorm(t *testing.T) {
	for _, c := range lnCases {
		t.Run(c.String(), func(t *testing.T) {
			rng := seeded("LayerNorm/" + c.String())
			x := randn(rng, c.T*c.C, 1)
			for i := range x {
				x[i] += c.offset
			}
			var gamma, beta []float32
			var gt, bt *shaders.Tensor
			if c.gamma {
				gamma = randn(rng, c.C, 0.5)
				for i := range gamma {
					gamma[i]++
				}
				gt = eng.Upload(gamma, c.C)
			}
			if c.beta {
				beta = randn(rng, c.C, 0.5)
				bt = eng.Upload(beta, c.C)
			}
			want := make([]float32, len(x))
			ref.LayerNorm(want, x, gamma, beta, c.C, c.eps)

			xt := eng.Upload(x, c.T, c.C)
			yt := xt
			if !c.inPlace {
				yt = eng.Empty(shaders.F32, c.T, c.C)
			}
			eng.LayerNorm(yt, xt, gt, bt, c.C, c.eps)
			check(t, "layernorm", read(t, yt), want, 1e-5, 1e-5)
			for _, tt := range []*shaders.Tensor{xt, yt, gt, bt} {
				tt.Release() // a second Release of the same tensor is a no-op
			}
		})
	}
}

type modCase struct {
	B, T, C      int
	chunks       int
	shift, scale int // chunk indices
	inPlace      bool
}

func (c modCase) String() string {
	s := fmt.Sprintf("B=%d,T=%d,C=%d,chunks=%d,shift=%d,scale=%d", c.B, c.T, c.C, c.chunks, c.shift, c.scale)
	if c.inPlace {
		s += ",inplace"
	}
	return s
}

var modCases = []modCase{
	{B: 1, T: 1, C: 1, chunks: 2, shift: 0, scale: 1},
	{B: 3, T: 5, C: 3, chunks: 2, shift: 1, scale: 0},
	{B: 2, T: 7, C: 257, chunks: 6, shift: 3, scale: 4, inPlace: true},
	{B: 2, T: 17, C: 392, chunks: 2, shift: 0, scale: 1},  // a final layer at the latent width
	{B: 2, T: 7, C: 1152, chunks: 6, shift: 0, scale: 1},  // SVG-XL, before attention
	{B: 2, T: 17, C: 1152, chunks: 6, shift: 3, scale: 4}, // SVG-XL, before the MLP
	{B: 1, T: 256, C: 384, chunks: 6, shift: 3, scale: 4}, // a full token grid
}

// modInputs returns x [B·T, C] and the adaLN output [B, chunks·C].
func modInputs(name string, c modCase) (x, ada []float32) {
	rng := seeded(name + "/" + c.String())
	return randn(rng, c.B*c.T*c.C, 1), randn(rng, c.B*c.chunks*c.C, 0.5)
}

// runMod uploads x and ada, runs op on the engine and returns y.
func runMod(t *testing.T, c modCase, x, ada []float32, op func(y, x *shaders.Tensor, m shaders.Mod)) []float32 {
	xt := eng.Upload(x, c.B*c.T, c.C)
	at := eng.Upload(ada, c.B, c.chunks*c.C)
	yt := xt
	if !c.inPlace {
		yt = eng.Empty(shaders.F32, c.B*c.T, c.C)
		defer yt.Release()
	}
	op(yt, xt, shaders.Mod{Ada: at, Chunks: c.chunks, Shift: c.shift, Scale: c.scale})
	got := read(t, yt)
	xt.Release()
	at.Release()
	return got
}

// TestLayerNormModulate: the DiT's adaLN input with shift and scale read as
// chunks of one adaLN output. Tolerance 1e-5 abs + 1e-5 rel.
func TestLayerNormModulate(t *testing.T) {
	const eps = 1e-6
	for _, c := range modCases {
		t.Run(c.String(), func(t *testing.T) {
			x, ada := modInputs("LayerNormModulate", c)
			want := make([]float32, len(x))
			ref.LayerNormModulate(want, x, ref.Mod{Ada: ada, Chunks: c.chunks, Shift: c.shift, Scale: c.scale}, c.C, eps)
			got := runMod(t, c, x, ada, func(y, x *shaders.Tensor, m shaders.Mod) {
				eng.LayerNormModulate(y, x, m, c.C, eps)
			})
			check(t, "layernorm_modulate", got, want, 1e-5, 1e-5)
		})
	}
}

// TestModulate: x·(1+scale)+shift is three f32 roundings against a float64
// reference, at most ~1.5 ulp of the result plus ulp(1)·|x| where the sum
// cancels: 1e-6 abs + 1e-6 rel (elementwise).
func TestModulate(t *testing.T) {
	for _, c := range modCases {
		t.Run(c.String(), func(t *testing.T) {
			x, ada := modInputs("Modulate", c)
			want := make([]float32, len(x))
			ref.Modulate(want, x, ref.Mod{Ada: ada, Chunks: c.chunks, Shift: c.shift, Scale: c.scale}, c.C)
			got := runMod(t, c, x, ada, func(y, x *shaders.Tensor, m shaders.Mod) {
				eng.Modulate(y, x, m, c.C)
			})
			check(t, "modulate", got, want, 1e-6, 1e-6)
		})
	}
}

type headCase struct {
	B, T, NH, HD int
	which        int // 0 q, 1 k
	affine       bool
}

func (c headCase) String() string {
	return fmt.Sprintf("B=%d,T=%d,NH=%d,HD=%d,which=%d,affine=%v", c.B, c.T, c.NH, c.HD, c.which, c.affine)
}

var headCases = []headCase{
	{B: 1, T: 1, NH: 1, HD: 1, which: 0, affine: true},
	{B: 1, T: 3, NH: 1, HD: 1, which: 1, affine: true},
	{B: 2, T: 5, NH: 3, HD: 3, which: 0},
	{B: 1, T: 17, NH: 6, HD: 64, which: 1, affine: true},   // 64-wide heads
	{B: 2, T: 7, NH: 16, HD: 72, which: 0, affine: true},   // SVG-XL q_norm
	{B: 2, T: 7, NH: 16, HD: 72, which: 1, affine: true},   // SVG-XL k_norm
	{B: 1, T: 257, NH: 12, HD: 64, which: 1, affine: true}, // SVG-B, over a token grid
}

// TestHeadNorm: the qk-norm in place on a packed qkv; the whole tensor is
// compared, so v and the other part must come back untouched. Tolerance 1e-5
// abs + 1e-5 rel.
func TestHeadNorm(t *testing.T) {
	const eps = 1e-5
	for _, c := range headCases {
		t.Run(c.String(), func(t *testing.T) {
			rng := seeded("HeadNorm/" + c.String())
			qkv := randn(rng, c.B*c.T*3*c.NH*c.HD, 1)
			var gamma, beta []float32
			var gt, bt *shaders.Tensor
			if c.affine {
				gamma, beta = randn(rng, c.HD, 0.5), randn(rng, c.HD, 0.5)
				for i := range gamma {
					gamma[i]++
				}
				gt, bt = eng.Upload(gamma, c.HD), eng.Upload(beta, c.HD)
			}
			qt := eng.Upload(qkv, c.B, c.T, 3*c.NH*c.HD)
			want := append([]float32(nil), qkv...)
			ref.HeadNorm(want, gamma, beta, c.NH, c.HD, c.which, eps)
			eng.HeadNorm(qt, gt, bt, c.NH, c.HD, c.which, eps)
			check(t, "headnorm", read(t, qt), want, 1e-5, 1e-5)
			for _, tt := range []*shaders.Tensor{qt, gt, bt} {
				tt.Release()
			}
		})
	}
}
