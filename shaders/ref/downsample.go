package ref

// DownsampleOut is the output side of the LDM Downsample block over n
// pixels: ConvOut(n+1, 3, 2, 0).
func DownsampleOut(n int) int { return ConvOut(n+1, 3, 2, 0) }

// Downsample is the LDM Downsample block with a convolution
// (ldm/modules/diffusionmodules/model.py):
//
//	x = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="constant", value=0)
//	y = conv2d(x, w, bias, stride=2, padding=0)
//
// x [B,Cin,H,W], w [Cout,Cin,3,3], bias [Cout] or nil,
// y [B,Cout,DownsampleOut(H),DownsampleOut(W)].
func Downsample(y, x, w, bias []float32, B, Cin, H, W, Cout int) {
	Ho, Wo := DownsampleOut(H), DownsampleOut(W)
	for b := range B {
		for co := range Cout {
			for oy := range Ho {
				for ox := range Wo {
					var s float64
					for ci := range Cin {
						for ky := range 3 {
							iy := 2*oy + ky
							if iy >= H {
								continue // the padding row
							}
							for kx := range 3 {
								ix := 2*ox + kx
								if ix >= W {
									continue
								}
								s += float64(x[((b*Cin+ci)*H+iy)*W+ix]) * float64(w[((co*Cin+ci)*3+ky)*3+kx])
							}
						}
					}
					v := float32(s)
					if bias != nil {
						v += bias[co]
					}
					y[((b*Cout+co)*Ho+oy)*Wo+ox] = v
				}
			}
		}
	}
}
