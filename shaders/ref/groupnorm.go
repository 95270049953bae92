package ref

import "math"

// GroupNorm is torch.nn.GroupNorm(G, C, eps) on NCHW x [B, C, H·W]
// (statistics over the C/G·H·W values of each (b, group), biased variance,
// in float64), with per-channel gamma and beta (either may be nil), then
// y·sigmoid(y) when swish is set (the LDM decoder's nonlinearity). y may be x.
// https://pytorch.org/docs/stable/generated/torch.nn.GroupNorm.html
func GroupNorm(y, x, gamma, beta []float32, C, HW, G int, eps float32, swish bool) {
	cpg := C / G
	n := cpg * HW
	for off := 0; off < len(x); off += n { // groups are contiguous
		c0 := (off / HW) % C
		var s float64
		for i := range n {
			s += float64(x[off+i])
		}
		mean := s / float64(n)
		var v float64
		for i := range n {
			d := float64(x[off+i]) - mean
			v += d * d
		}
		rstd := 1 / math.Sqrt(v/float64(n)+float64(eps))
		for i := range n {
			c := c0 + i/HW
			z := (float64(x[off+i]) - mean) * rstd
			if gamma != nil {
				z *= float64(gamma[c])
			}
			if beta != nil {
				z += float64(beta[c])
			}
			if swish {
				z /= 1 + math.Exp(-z)
			}
			y[off+i] = float32(z)
		}
	}
}
