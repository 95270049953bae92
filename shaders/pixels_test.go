package shaders_test

import (
	"fmt"
	"math"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

// TestToRGBA8: exact bytes. The inputs include the rounding edge cases: 0
// gives 127.5, a tie rounded to even (128); ±1 the ends; out-of-range values
// clamp; and values one ulp either side of a tie.
func TestToRGBA8(t *testing.T) {
	for _, c := range [][3]int{{1, 1, 1}, {2, 5, 7}, {1, 64, 48}} {
		B, H, W := c[0], c[1], c[2]
		t.Run(fmt.Sprintf("B=%d,H=%d,W=%d", B, H, W), func(t *testing.T) {
			x := randn(seeded(fmt.Sprint("rgba", c)), B*3*H*W, 0.6)
			edges := []float32{0, -1, 1, 2, -3, 1e-30, -1e-30, 0.5, -0.5,
				math.Nextafter32(0, 1), math.Nextafter32(0, -1),
				0.5/127.5 - 1, math.Nextafter32(0.5/127.5-1, 0), math.Nextafter32(0.5/127.5-1, -1),
				254.5/127.5 - 1, math.Nextafter32(254.5/127.5-1, 0), math.Nextafter32(254.5/127.5-1, 2)}
			copy(x, edges)
			want := make([]byte, B*H*W*4)
			ref.ToRGBA8(want, x, B, H, W)
			if want[0] != 128 {
				t.Fatalf("ref rounding rule changed: x=0 gives %d, want 128 (ties to even)", want[0])
			}
			xt := eng.Upload(x, B, 3, H, W)
			out := eng.Empty(shaders.U8, B, H, W, 4)
			eng.ToRGBA8(out, xt, B, H, W)
			got, err := eng.ReadRaw(out)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range want {
				if got[i] != want[i] {
					if bad < 5 {
						p, ch := i/4, i%4
						var in float32
						if ch < 3 {
							in = x[(p/(H*W)*3+ch)*H*W+p%(H*W)]
						}
						t.Errorf("byte %d (pixel %d, channel %d, x=%g): got %d, want %d", i, p, ch, in, got[i], want[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d bytes differ", bad, len(want))
			} else {
				t.Logf("rgba8: OK, exact (n=%d)", len(want))
			}
			xt.Release()
			out.Release()
		})
	}
}

// TestFromRGBA8: 1e-6 abs + 1e-6 rel (two divisions, a few ulp on a GPU).
func TestFromRGBA8(t *testing.T) {
	for _, c := range [][3]int{{1, 1, 1}, {2, 5, 7}, {1, 64, 48}} {
		B, H, W := c[0], c[1], c[2]
		t.Run(fmt.Sprintf("B=%d,H=%d,W=%d", B, H, W), func(t *testing.T) {
			rng := seeded(fmt.Sprint("from", c))
			px := make([]byte, B*H*W*4)
			for i := range px {
				px[i] = byte(rng.IntN(256))
			}
			px[0], px[1], px[2] = 0, 255, 128
			want := make([]float32, B*3*H*W)
			ref.FromRGBA8(want, px, B, H, W, ref.ImageNetMean, ref.ImageNetStd)
			pt := eng.UploadRaw(shaders.U8, px, B, H, W, 4)
			yt := eng.Empty(shaders.F32, B, 3, H, W)
			eng.FromRGBA8(yt, pt, B, H, W, shaders.ImageNetMean, shaders.ImageNetStd)
			check(t, "from_rgba8", read(t, yt), want, 1e-6, 1e-6)
			pt.Release()
			yt.Release()
		})
	}
}

// TestRGBA8RoundTrip: bytes → [−1,1] floats → bytes is the identity (the
// decoder's output convention inverted by hand on the CPU).
func TestRGBA8RoundTrip(t *testing.T) {
	x := make([]float32, 3*256)
	for i := range x {
		x[i] = float32(i%256)/127.5 - 1
	}
	xt := eng.Upload(x, 1, 3, 16, 16)
	out := eng.Empty(shaders.U8, 1, 16, 16, 4)
	eng.ToRGBA8(out, xt, 1, 16, 16)
	got, err := eng.ReadRaw(out)
	if err != nil {
		t.Fatal(err)
	}
	for p := range 256 {
		for ch := range 3 {
			if int(got[p*4+ch]) != p {
				t.Fatalf("pixel %d channel %d: got %d", p, ch, got[p*4+ch])
			}
		}
		if got[p*4+3] != 255 {
			t.Fatalf("pixel %d alpha %d", p, got[p*4+3])
		}
	}
	xt.Release()
	out.Release()
}
