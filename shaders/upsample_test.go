package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// TestUpsample2x: exact (a copy).
func TestUpsample2x(t *testing.T) {
	for _, c := range [][4]int{{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 64, 16, 16}} {
		B, C, H, W := c[0], c[1], c[2], c[3]
		t.Run(fmt.Sprintf("B=%d,C=%d,H=%d,W=%d", B, C, H, W), func(t *testing.T) {
			x := randn(seeded("up"), B*C*H*W, 1)
			want := make([]float32, 4*len(x))
			ref.Upsample2x(want, x, B, C, H, W)
			xt := eng.Upload(x, B, C, H, W)
			yt := eng.Empty(shaders.F32, B, C, 2*H, 2*W)
			eng.Upsample2x(yt, xt, B, C, H, W)
			check(t, "upsample2x", read(t, yt), want, 0, 0)
			xt.Release()
			yt.Release()
		})
	}
}
