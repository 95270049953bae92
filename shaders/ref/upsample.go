package ref

// Upsample2x is nearest-neighbour 2× upsampling of NCHW x [B,C,H,W] into
// y [B,C,2H,2W] (torch.nn.functional.interpolate(scale_factor=2,
// mode="nearest")).
func Upsample2x(y, x []float32, B, C, H, W int) {
	for bc := range B * C {
		for oy := range 2 * H {
			for ox := range 2 * W {
				y[(bc*2*H+oy)*2*W+ox] = x[(bc*H+oy/2)*W+ox/2]
			}
		}
	}
}
