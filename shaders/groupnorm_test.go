package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

type gnCase struct {
	B, C, H, W, G int
	affine, swish bool
	offset        float32 // added to x: a group mean far from 0
	inPlace       bool
	long          bool // full resolution: -short runs it at 64×64
}

func (c gnCase) String() string {
	s := fmt.Sprintf("B=%d,C=%d,HW=%dx%d,G=%d,affine=%v,swish=%v", c.B, c.C, c.H, c.W, c.G, c.affine, c.swish)
	if c.offset != 0 {
		s += fmt.Sprintf(",offset=%g", c.offset)
	}
	if c.inPlace {
		s += ",inplace"
	}
	return s
}

var gnCases = []gnCase{
	{B: 1, C: 1, H: 1, W: 1, G: 1, affine: true},
	{B: 3, C: 6, H: 5, W: 7, G: 3, affine: true, swish: true},
	{B: 2, C: 64, H: 1, W: 1, G: 32, affine: true, swish: true}, // two values per group
	{B: 2, C: 64, H: 4, W: 4, G: 32, affine: true},
	{B: 2, C: 64, H: 17, W: 17, G: 32, affine: true, swish: true},
	{B: 2, C: 64, H: 17, W: 17, G: 32, swish: true, inPlace: true},
	{B: 1, C: 512, H: 16, W: 16, G: 32, affine: true, swish: true}, // decoder mid, 16×16
	{B: 2, C: 128, H: 32, W: 32, G: 32, affine: true, swish: true},
	{B: 2, C: 128, H: 32, W: 32, G: 32, affine: true},                            // before attention / norm_out-like
	{B: 1, C: 128, H: 32, W: 32, G: 32, affine: true, offset: 100},               // mean ≫ std
	{B: 1, C: 128, H: 256, W: 256, G: 32, affine: true, swish: true, long: true}, // 262144 values per group
	// Split over several workgroups per group (more than GroupNormChunk = 4096 values):
	{B: 2, C: 6, H: 65, W: 63, G: 3, affine: true, swish: true},   // 8190: two chunks, the last short
	{B: 1, C: 8, H: 45, W: 47, G: 1, affine: true},                // 16920: five chunks, the last 520
	{B: 1, C: 4, H: 64, W: 65, G: 1, affine: true, offset: 100},   // mean ≫ std across chunks
	{B: 3, C: 10, H: 31, W: 29, G: 2, swish: true, inPlace: true}, // 4495 per group, in place
	{B: 1, C: 64, H: 64, W: 64, G: 32, affine: true, swish: true}, // 8192: exactly two chunks
}

// TestGroupNorm: tolerance 1e-5 abs + 1e-5 rel at every size, one
// workgroup per group and split alike. A group of n
// values is summed by 256 threads, each in blocks of 32, then by a tree:
// every partial sum has at most 32 + n/8192 + 8 f32 roundings (72 at
// 262144), so the variance is good to ~4e-6 relative in the worst case and
// z to ~2e-6; the first mean's error is removed by the second pass. The
// reference computes the statistics in float64. Split, each chunk of 4096
// values is summed the same way in registers (16 per thread, then the tree)
// and the chunks' statistics merge around chunk 0's mean (small terms), so
// the error bound is no larger.
func TestGroupNorm(t *testing.T) {
	for _, c := range gnCases {
		if c.long && testing.Short() {
			c.H, c.W = 64, 64
		}
		t.Run(c.String(), func(t *testing.T) {
			rng := seeded("GroupNorm/" + c.String())
			HW := c.H * c.W
			x := randn(rng, c.B*c.C*HW, 1)
			for i := range x {
				x[i] += c.offset
			}
			var gamma, beta []float32
			var gt, bt *shaders.Tensor
			if c.affine {
				gamma, beta = randn(rng, c.C, 0.5), randn(rng, c.C, 0.5)
				for i := range gamma {
					gamma[i]++
				}
				gt, bt = eng.Upload(gamma, c.C), eng.Upload(beta, c.C)
			}
			want := make([]float32, len(x))
			ref.GroupNorm(want, x, gamma, beta, c.C, HW, c.G, 1e-6, c.swish)

			xt := eng.Upload(x, c.B, c.C, c.H, c.W)
			yt := xt
			if !c.inPlace {
				yt = eng.Empty(shaders.F32, c.B, c.C, c.H, c.W)
			}
			eng.GroupNorm(yt, xt, gt, bt, c.C, HW, c.G, 1e-6, c.swish)
			check(t, "groupnorm", read(t, yt), want, 1e-5, 1e-5)
			for _, tt := range []*shaders.Tensor{xt, yt, gt, bt} {
				tt.Release() // a second Release of the same tensor is a no-op
			}
		})
	}
}
