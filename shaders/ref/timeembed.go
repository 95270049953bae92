package ref

import "math"

// TimestepEmbedding is the DiT's sinusoidal time embedding with SVG's
// convention: t [B] is the raw flow time (in [0,1], not ×1000), and
// out [B, dim] = [cos(t·f_k) | sin(t·f_k)] (cos first) with
// f_k = exp(−ln(maxPeriod)·k/half), k = 0..half−1, half = dim/2; an odd dim
// gets a zero last column. Computed in float64 (PyTorch computes it in f32).
func TimestepEmbedding(out, t []float32, dim int, maxPeriod float64) {
	half := dim / 2
	for b, tv := range t {
		row := out[b*dim : (b+1)*dim]
		for k := range half {
			f := math.Exp(-math.Log(maxPeriod) * float64(k) / float64(half))
			a := float64(tv) * f
			row[k] = float32(math.Cos(a))
			row[half+k] = float32(math.Sin(a))
		}
		if dim%2 == 1 {
			row[dim-1] = 0
		}
	}
}
