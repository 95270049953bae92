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

func conv2d(y, x, w, bias, res []float32, B, Cin, H, W, Cout, k, stride, pad int, up2, tokens bool) {
	u := 1
	if up2 {
		u = 2
	}
	Hi, Wi := H*u, W*u // the image the convolution sees
	Ho, Wo := ConvOut(Hi, k, stride, pad), ConvOut(Wi, k, stride, pad)
	for b := range B {
		for co := range Cout {
			for oy := range Ho {
				for ox := range Wo {
					var s float64
					for ci := range Cin {
						for ky := range k {
							iy := oy*stride + ky - pad
							if iy < 0 || iy >= Hi {
								continue
							}
							for kx := range k {
								ix := ox*stride + kx - pad
								if ix < 0 || ix >= Wi {
									continue
								}
								xv := x[((b*Cin+ci)*H+iy/u)*W+ix/u]
								s += float64(xv) * float64(w[((co*Cin+ci)*k+ky)*k+kx])
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
