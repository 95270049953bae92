package main

// The "semantic latent" picture: DINO features of each token projected on
// their first three principal components, shown as R, G and B (the usual
// way DINO papers show feature maps).

import (
	"math"
	"math/rand/v2"
)

// PCAColors maps features x [T,C] (token-major) to T RGBA pixels: the
// projections on the top three principal components over the T tokens,
// each min-max scaled to 0..255. Components come from power iteration with
// deflation on the C×C covariance, seeded, so the picture is deterministic;
// each component's sign is fixed so that its largest loading is positive.
func PCAColors(x []float32, T, C int) []byte {
	mean := make([]float64, C)
	for t := range T {
		for c := range C {
			mean[c] += float64(x[t*C+c])
		}
	}
	for c := range mean {
		mean[c] /= float64(T)
	}
	cov := make([]float64, C*C)
	row := make([]float64, C)
	for t := range T {
		for c := range C {
			row[c] = float64(x[t*C+c]) - mean[c]
		}
		for i := range C {
			if row[i] == 0 {
				continue
			}
			for j := range C {
				cov[i*C+j] += row[i] * row[j]
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	comps := make([][]float64, 0, 3)
	for range min(3, C) {
		v := make([]float64, C)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		w := make([]float64, C)
		for range 200 {
			for i := range C {
				var s float64
				for j := range C {
					s += cov[i*C+j] * v[j]
				}
				w[i] = s
			}
			for _, u := range comps { // deflate: stay orthogonal to found components
				d := dot(w, u)
				for i := range w {
					w[i] -= d * u[i]
				}
			}
			n := math.Sqrt(dot(w, w))
			if n == 0 {
				break
			}
			for i := range w {
				w[i] /= n
			}
			v, w = w, v
		}
		big := 0
		for i := range v {
			if math.Abs(v[i]) > math.Abs(v[big]) {
				big = i
			}
		}
		if v[big] < 0 {
			for i := range v {
				v[i] = -v[i]
			}
		}
		comps = append(comps, v)
	}
	out := make([]byte, T*4)
	for k, u := range comps {
		proj := make([]float64, T)
		lo, hi := math.Inf(1), math.Inf(-1)
		for t := range T {
			var s float64
			for c := range C {
				s += (float64(x[t*C+c]) - mean[c]) * u[c]
			}
			proj[t] = s
			lo, hi = math.Min(lo, s), math.Max(hi, s)
		}
		for t := range T {
			v := 0.5
			if hi > lo {
				v = (proj[t] - lo) / (hi - lo)
			}
			out[t*4+k] = byte(math.Round(v * 255))
		}
	}
	for t := range T {
		out[t*4+3] = 255
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Resample resizes a G×G RGBA image to S×S: nearest neighbour when
// enlarging, the mean of each output pixel's source block when shrinking
// (S dividing G), nearest otherwise.
func Resample(src []byte, G, S int) []byte {
	if S >= G || G%S != 0 {
		return Upscale(src, G, S)
	}
	k := G / S
	out := make([]byte, S*S*4)
	for y := range S {
		for x := range S {
			for c := range 4 {
				sum := 0
				for dy := range k {
					for dx := range k {
						sum += int(src[((y*k+dy)*G+x*k+dx)*4+c])
					}
				}
				out[(y*S+x)*4+c] = byte((sum + k*k/2) / (k * k))
			}
		}
	}
	return out
}

// Upscale enlarges a G×G RGBA image to S×S by nearest neighbour (S a
// multiple of G, or close: each output pixel takes the cell it falls in).
func Upscale(src []byte, G, S int) []byte {
	out := make([]byte, S*S*4)
	for y := range S {
		for x := range S {
			sy, sx := y*G/S, x*G/S
			copy(out[(y*S+x)*4:(y*S+x)*4+4], src[(sy*G+sx)*4:(sy*G+sx)*4+4])
		}
	}
	return out
}
