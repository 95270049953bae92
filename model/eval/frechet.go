package eval

// Fréchet distance between Gaussians fitted to two feature sets (the FID
// formula, in whatever feature space the features come from):
//   d² = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½
// computed with symmetric eigendecompositions (cyclic Jacobi), in float64.

import (
	"math"
)

// Gaussian is the mean and (unbiased) covariance of N feature vectors.
type Gaussian struct {
	D, N int
	Mean []float64
	Cov  []float64 // D×D
}

// Fit fits a Gaussian to n feature vectors of dimension d stored row-major.
func Fit(x []float32, n, d int) Gaussian {
	g := Gaussian{D: d, N: n, Mean: make([]float64, d), Cov: make([]float64, d*d)}
	for i := range n {
		for j, v := range x[i*d : (i+1)*d] {
			g.Mean[j] += float64(v)
		}
	}
	for j := range g.Mean {
		g.Mean[j] /= float64(n)
	}
	c := make([]float64, d)
	for i := range n {
		row := x[i*d : (i+1)*d]
		for j, v := range row {
			c[j] = float64(v) - g.Mean[j]
		}
		for a := range d {
			ca := c[a]
			if ca == 0 {
				continue
			}
			r := g.Cov[a*d : (a+1)*d]
			for b := a; b < d; b++ {
				r[b] += ca * c[b]
			}
		}
	}
	den := float64(max(1, n-1))
	for a := range d {
		for b := a; b < d; b++ {
			v := g.Cov[a*d+b] / den
			g.Cov[a*d+b], g.Cov[b*d+a] = v, v
		}
	}
	return g
}

// Frechet returns the Fréchet distance d² between two Gaussians.
func Frechet(a, b Gaussian) float64 {
	d := a.D
	var m2, tr float64
	for i := range d {
		dm := a.Mean[i] - b.Mean[i]
		m2 += dm * dm
		tr += a.Cov[i*d+i] + b.Cov[i*d+i]
	}
	// S = Σ₁^½ (symmetric PSD square root), M = S Σ₂ S, tr √M = Σ √λ(M)
	s := sqrtPSD(a.Cov, d)
	m := mul(mul(s, b.Cov, d), s, d)
	for i := range d { // symmetrise against rounding
		for j := i + 1; j < d; j++ {
			v := (m[i*d+j] + m[j*d+i]) / 2
			m[i*d+j], m[j*d+i] = v, v
		}
	}
	vals, _ := symEig(m, d)
	var trs float64
	for _, v := range vals {
		if v > 0 {
			trs += math.Sqrt(v)
		}
	}
	return m2 + tr - 2*trs
}

func mul(a, b []float64, d int) []float64 {
	out := make([]float64, d*d)
	for i := range d {
		o := out[i*d : (i+1)*d]
		for k := range d {
			v := a[i*d+k]
			if v == 0 {
				continue
			}
			bk := b[k*d : (k+1)*d]
			for j := range d {
				o[j] += v * bk[j]
			}
		}
	}
	return out
}

// sqrtPSD is V·diag(√max(λ,0))·Vᵀ.
func sqrtPSD(a []float64, d int) []float64 {
	vals, vecs := symEig(a, d)
	out := make([]float64, d*d)
	for k := range d {
		s := math.Sqrt(max(0, vals[k]))
		if s == 0 {
			continue
		}
		for i := range d {
			v := vecs[i*d+k] * s
			for j := range d {
				out[i*d+j] += v * vecs[j*d+k]
			}
		}
	}
	return out
}

// symEig diagonalises a symmetric d×d matrix by cyclic Jacobi rotations:
// eigenvalues, and eigenvectors as the columns of V (row-major d×d).
func symEig(in []float64, d int) ([]float64, []float64) {
	a := append([]float64(nil), in...)
	v := make([]float64, d*d)
	for i := range d {
		v[i*d+i] = 1
	}
	var norm float64
	for _, x := range a {
		norm += x * x
	}
	for sweep := 0; sweep < 100; sweep++ {
		var off float64
		for p := range d {
			for q := p + 1; q < d; q++ {
				off += a[p*d+q] * a[p*d+q]
			}
		}
		if off <= 1e-30*norm || off == 0 {
			break
		}
		for p := range d {
			for q := p + 1; q < d; q++ {
				apq := a[p*d+q]
				if apq == 0 || math.Abs(apq) < 1e-300 {
					continue
				}
				app, aqq := a[p*d+p], a[q*d+q]
				theta := (aqq - app) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				// A ← Jᵀ A J on rows/columns p, q
				for k := range d {
					akp, akq := a[k*d+p], a[k*d+q]
					a[k*d+p] = c*akp - s*akq
					a[k*d+q] = s*akp + c*akq
				}
				for k := range d {
					apk, aqk := a[p*d+k], a[q*d+k]
					a[p*d+k] = c*apk - s*aqk
					a[q*d+k] = s*apk + c*aqk
				}
				for k := range d {
					vkp, vkq := v[k*d+p], v[k*d+q]
					v[k*d+p] = c*vkp - s*vkq
					v[k*d+q] = s*vkp + c*vkq
				}
			}
		}
	}
	vals := make([]float64, d)
	for i := range d {
		vals[i] = a[i*d+i]
	}
	return vals, v
}
