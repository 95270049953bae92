package ref

import (
	"math"
	"math/rand"
	"testing"
)

// naiveConv2D is the six-deep loop conv2d is arranged from: the same terms
// added in the same order, so the two must agree bit for bit.
func naiveConv2D(y, x, w, bias, res []float32, B, Cin, H, W, Cout, k, stride, pad int, up2, tokens bool) {
	u := 1
	if up2 {
		u = 2
	}
	Hi, Wi := H*u, W*u
	Ho, Wo := ConvOut(Hi, k, stride, pad), ConvOut(Wi, k, stride, pad)
	for b := range B {
		for co := range Cout {
			for oy := range Ho {
				for ox := range Wo {
					var s float64
					for ci := range Cin {
						for ky := range k {
							for kx := range k {
								iy, ix := oy*stride+ky-pad, ox*stride+kx-pad
								if iy < 0 || iy >= Hi || ix < 0 || ix >= Wi {
									continue
								}
								s += float64(x[((b*Cin+ci)*H+iy/u)*W+ix/u]) * float64(w[((co*Cin+ci)*k+ky)*k+kx])
							}
						}
					}
					v := float32(s)
					if bias != nil {
						v += bias[co]
					}
					o := ((b*Cout+co)*Ho+oy)*Wo + ox
					if tokens {
						o = (b*Ho*Wo+oy*Wo+ox)*Cout + co
					}
					if res != nil {
						v += res[o]
					}
					y[o] = v
				}
			}
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func TestConv2DMatchesPlainLoop(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, c := range []struct {
		B, Cin, H, W, Cout, k, stride, pad int
		up2, tokens, bias, res             bool
	}{
		{1, 3, 7, 5, 4, 3, 1, 1, false, false, true, false},
		{2, 5, 9, 11, 3, 3, 2, 1, false, false, true, true},
		{1, 2, 6, 6, 3, 3, 2, 0, false, false, false, false}, // the LDM downsample's conv
		{1, 4, 5, 3, 2, 3, 1, 1, true, false, true, false},   // fused nearest ×2 upsample
		{2, 3, 8, 8, 6, 4, 4, 0, false, true, true, false},   // patch embedding, token-major
		{1, 2, 3, 2, 2, 5, 1, 1, false, false, true, false},  // kernel wider than the padded image
		{1, 3, 4, 4, 2, 1, 1, 0, false, false, false, true},  // 1×1
		{1, 2, 5, 7, 3, 3, 3, 2, false, false, true, false},  // stride 3, pad 2
	} {
		u := 1
		if c.up2 {
			u = 2
		}
		Ho, Wo := ConvOut(c.H*u, c.k, c.stride, c.pad), ConvOut(c.W*u, c.k, c.stride, c.pad)
		x := randSlice(r, c.B*c.Cin*c.H*c.W)
		w := randSlice(r, c.Cout*c.Cin*c.k*c.k)
		var bias, res []float32
		if c.bias {
			bias = randSlice(r, c.Cout)
		}
		n := c.B * c.Cout * Ho * Wo
		if c.res {
			res = randSlice(r, n)
		}
		got, want := make([]float32, n), make([]float32, n)
		conv2d(got, x, w, bias, res, c.B, c.Cin, c.H, c.W, c.Cout, c.k, c.stride, c.pad, c.up2, c.tokens)
		naiveConv2D(want, x, w, bias, res, c.B, c.Cin, c.H, c.W, c.Cout, c.k, c.stride, c.pad, c.up2, c.tokens)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: y[%d] = %v, plain loop %v", c, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkConv2D: a 3×3 conv of the digits decoder's size (64 channels at
// 32²), the CPU fallback's hot spot; compare with the plain loop.
func BenchmarkConv2D(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	C, H := 64, 32
	x, w := randSlice(r, C*H*H), randSlice(r, C*C*9)
	y := make([]float32, C*H*H)
	b.Run("arranged", func(b *testing.B) {
		for b.Loop() {
			conv2d(y, x, w, nil, nil, 1, C, H, H, C, 3, 1, 1, false, false)
		}
	})
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			naiveConv2D(y, x, w, nil, nil, 1, C, H, H, C, 3, 1, 1, false, false)
		}
	})
}
