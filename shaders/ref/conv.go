package ref

// ConvOut is the output side of a k×k convolution with stride and padding
// over a side of n pixels (PyTorch's floor rule).
func ConvOut(n, k, stride, pad int) int { return (n+2*pad-k)/stride + 1 }

// Conv2D is torch.nn.functional.conv2d on NCHW tensors plus the engine's
// fusions: x [B,Cin,H,W], w [Cout,Cin,k,k], bias [Cout] or nil,
// y [B,Cout,Ho,Wo] with Ho = ConvOut(H·u, k, stride, pad) (u = 2 with up2,
// else 1), and y = conv + res where res (nil, or laid out as y) may be y
// itself to accumulate. With up2 the convolution sees the nearest-neighbour
// 2× upsampling of x (interpolate(scale_factor=2) then conv, as in the LDM
// Upsample block).
// https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
func Conv2D(y, x, w, bias, res []float32, B, Cin, H, W, Cout, k, stride, pad int, up2 bool) {
	conv2d(y, x, w, bias, res, B, Cin, H, W, Cout, k, stride, pad, up2, false)
}

// PatchEmbed is a ViT patch embedding: Conv2D with kernel = stride = patch
// and no padding, written token-major: y [B, T, Cout] with
// T = (H/patch)·(W/patch) patches in row-major order (the
// x.flatten(2).transpose(1, 2) that follows the conv in PyTorch).
func PatchEmbed(y, img, w, bias []float32, B, Cin, H, W, Cout, patch int) {
	conv2d(y, img, w, bias, nil, B, Cin, H, W, Cout, patch, patch, 0, false, true)
}

// conv2d adds each output's terms in the order (ci, ky, kx), in float64, as
// the plain six-deep loop would; the loops are arranged so the innermost one
// runs along an output row over contiguous input (what makes the CPU
// fallback usable: ~9× the plain loop), which leaves every sum bit-identical.
func conv2d(y, x, w, bias, res []float32, B, Cin, H, W, Cout, k, stride, pad int, up2, tokens bool) {
	u := 1
	if up2 {
		u = 2
	}
	Hi, Wi := H*u, W*u // the image the convolution sees
	Ho, Wo := ConvOut(Hi, k, stride, pad), ConvOut(Wi, k, stride, pad)
	xi := make([]float64, Cin*Hi*Wi)
	acc := make([]float64, Ho*Wo)
	for b := range B {
		for ci := range Cin {
			for iy := range Hi {
				src := x[((b*Cin+ci)*H+iy/u)*W:][:W]
				dst := xi[(ci*Hi+iy)*Wi:][:Wi]
				for ix := range dst {
					dst[ix] = float64(src[ix/u])
				}
			}
		}
		for co := range Cout {
			clear(acc)
			for ci := range Cin {
				for ky := range k {
					for kx := range k {
						wv := float64(w[((co*Cin+ci)*k+ky)*k+kx])
						// outputs whose input column ox·stride + kx − pad lies inside the image
						lo, hi := 0, 0
						if d := pad - kx; d > 0 {
							lo = (d + stride - 1) / stride
						}
						if d := Wi - 1 + pad - kx; d >= 0 {
							hi = min(Wo, d/stride+1)
						}
						for oy := range Ho {
							iy := oy*stride + ky - pad
							if iy < 0 || iy >= Hi || lo >= hi {
								continue
							}
							row := xi[(ci*Hi+iy)*Wi:][:Wi]
							a := acc[oy*Wo:][:Wo]
							if stride == 1 {
								off := kx - pad
								for ox := lo; ox < hi; ox++ {
									a[ox] += row[ox+off] * wv
								}
								continue
							}
							for ox := lo; ox < hi; ox++ {
								a[ox] += row[ox*stride+kx-pad] * wv
							}
						}
					}
				}
			}
			for oy := range Ho {
				for ox := range Wo {
					v := float32(acc[oy*Wo+ox])
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
