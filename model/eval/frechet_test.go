package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSymEig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const d = 12
	a := make([]float64, d*d)
	for i := range d {
		for j := i; j < d; j++ {
			v := r.NormFloat64()
			a[i*d+j], a[j*d+i] = v, v
		}
	}
	vals, v := symEig(a, d)
	for i := range d { // A = V Λ Vᵀ
		for j := range d {
			var s float64
			for k := range d {
				s += v[i*d+k] * vals[k] * v[j*d+k]
			}
			if math.Abs(s-a[i*d+j]) > 1e-9 {
				t.Fatalf("reconstruction (%d,%d): %g vs %g", i, j, s, a[i*d+j])
			}
		}
	}
}

func TestFrechet(t *testing.T) {
	// 1-D: (m1−m2)² + s1 + s2 − 2√(s1 s2)
	a := Gaussian{D: 1, Mean: []float64{1}, Cov: []float64{4}}
	b := Gaussian{D: 1, Mean: []float64{3}, Cov: []float64{9}}
	if got, want := Frechet(a, b), 4+4+9-2*6.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("1-D: %g, want %g", got, want)
	}
	// 2-D, non-commuting covariances: tr √(Σ₁Σ₂) = √(tr M + 2√det M), M = Σ₁Σ₂
	s1 := []float64{2, 0.5, 0.5, 1}
	s2 := []float64{1, -0.3, -0.3, 3}
	a = Gaussian{D: 2, Mean: []float64{0, 0}, Cov: s1}
	b = Gaussian{D: 2, Mean: []float64{1, 2}, Cov: s2}
	m := mul(s1, s2, 2)
	trM, detM := m[0]+m[3], m[0]*m[3]-m[1]*m[2]
	want := 5 + (3 + 4) - 2*math.Sqrt(trM+2*math.Sqrt(detM))
	if got := Frechet(a, b); math.Abs(got-want) > 1e-9 {
		t.Errorf("2-D: %g, want %g", got, want)
	}
	if got := Frechet(b, a); math.Abs(got-want) > 1e-9 {
		t.Errorf("2-D swapped: %g, want %g", got, want)
	}
	// Fitted: same samples → 0; shifted samples → |shift|².
	r := rand.New(rand.NewPCG(3, 4))
	const n, d = 500, 16
	x := make([]float32, n*d)
	y := make([]float32, n*d)
	for i := range x {
		x[i] = float32(r.NormFloat64() * float64(1+i%d))
		y[i] = x[i] + 0.5
	}
	ga, gb := Fit(x, n, d), Fit(y, n, d)
	if f := Frechet(ga, ga); math.Abs(f) > 1e-6 {
		t.Errorf("self distance %g", f)
	}
	if f := Frechet(ga, gb); math.Abs(f-0.25*d) > 1e-5 {
		t.Errorf("shift distance %g, want %g", f, 0.25*d)
	}
}
