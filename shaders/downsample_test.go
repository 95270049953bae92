package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// padEnd is F.pad(x, (0,1,0,1)): one zero row and column after the image.
func padEnd(x []float32, BC, H, W int) []float32 {
	out := make([]float32, BC*(H+1)*(W+1))
	for bc := range BC {
		for y := range H {
			copy(out[(bc*(H+1)+y)*(W+1):], x[(bc*H+y)*W:(bc*H+y+1)*W])
		}
	}
	return out
}

// TestDownsample: ref.Downsample equals ref.Conv2D (stride 2, no padding)
// of the explicitly padded image, and the GPU kernel equals ref.Downsample
// (1e-5 abs + 1e-5 rel: sums of up to 9·Cin products in another order).
// Odd sides exercise the floor of the output size.
func TestDownsample(t *testing.T) {
	for _, c := range [][5]int{{1, 1, 1, 2, 2}, {2, 3, 5, 7, 9}, {1, 5, 7, 8, 6}, {2, 32, 32, 16, 16}, {1, 17, 33, 11, 10}} {
		B, Cin, Cout, H, W := c[0], c[1], c[2], c[3], c[4]
		for _, withBias := range []bool{true, false} {
			t.Run(fmt.Sprintf("B=%d,Cin=%d,Cout=%d,H=%d,W=%d,bias=%v", B, Cin, Cout, H, W, withBias), func(t *testing.T) {
				rng := seeded(fmt.Sprint("down", c, withBias))
				x := randn(rng, B*Cin*H*W, 1)
				w := randn(rng, Cout*Cin*9, 0.2)
				var bias []float32
				if withBias {
					bias = randn(rng, Cout, 0.5)
				}
				Ho, Wo := ref.DownsampleOut(H), ref.DownsampleOut(W)
				if Ho != shaders.DownsampleOut(H) || Wo != shaders.DownsampleOut(W) {
					t.Fatalf("output sides: ref %d×%d, engine %d×%d", Ho, Wo, shaders.DownsampleOut(H), shaders.DownsampleOut(W))
				}
				want := make([]float32, B*Cout*Ho*Wo)
				ref.Downsample(want, x, w, bias, B, Cin, H, W, Cout)
				padded := make([]float32, len(want))
				ref.Conv2D(padded, padEnd(x, B*Cin, H, W), w, bias, nil, B, Cin, H+1, W+1, Cout, 3, 2, 0, false)
				check(t, "ref downsample vs padded conv", want, padded, 0, 0)

				xt := eng.Upload(x, B, Cin, H, W)
				wt := eng.Upload(w, Cout, Cin, 3, 3)
				yt := eng.Empty(shaders.F32, B, Cout, Ho, Wo)
				var bt *shaders.Tensor
				if bias != nil {
					bt = eng.Upload(bias, Cout)
				}
				eng.Downsample(yt, xt, wt, bt, B, Cin, H, W, Cout)
				check(t, "downsample", read(t, yt), want, 1e-5, 1e-5)
				for _, tt := range []*shaders.Tensor{xt, wt, yt, bt} {
					tt.Release()
				}
			})
		}
	}
}
