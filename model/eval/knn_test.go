package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKNNHandWorked: a memory of four points where the weighting decides:
// two far neighbours of class 1 outvote nothing against one near neighbour
// of class 0 at a low temperature, and the opposite at a high one.
func TestKNNHandWorked(t *testing.T) {
	// Memory on the unit circle at angles 0 (class 0), 50° and 55° (class 1), 180° (class 2).
	deg := func(a float64) []float32 {
		r := a * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	var mem []float32
	for _, a := range []float64{0, 50, 55, 180} {
		mem = append(mem, deg(a)...)
	}
	labels := []int{0, 1, 1, 2}
	q := deg(20) // cos 20° = .940 to class 0; cos 30° = .866 and cos 35° = .819 to class 1
	// k = 3: class 0 weight e^{.940/T}, class 1 e^{.866/T} + e^{.819/T}.
	// T = 0.07: 6.71e5 vs 2.34e5 + 1.20e5 → class 0. T = 1: 2.56 vs 2.38 + 2.27 → class 1.
	if acc := KNN(mem, labels, q, []int{0}, 2, 3, KNNOptions{K: 3, Temp: 0.07}); acc != 1 {
		t.Errorf("T = 0.07: predicted class 1, want 0")
	}
	if acc := KNN(mem, labels, q, []int{1}, 2, 3, KNNOptions{K: 3, Temp: 1}); acc != 1 {
		t.Errorf("T = 1: predicted class 0, want 1")
	}
	// k = 1 is the nearest neighbour; scale does not matter (cosine).
	q2 := []float32{-5, 0.1}
	if acc := KNN(mem, labels, q2, []int{2}, 2, 3, KNNOptions{K: 1}); acc != 1 {
		t.Errorf("k = 1: the nearest memory point is class 2")
	}
}

// TestKNNMatchesBruteForce compares with a direct evaluation of the vote
// (every memory point ranked by selection, not by sorting) on random data.
func TestKNNMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, nt, d, K = 300, 120, 6, 5
	mk := func(m int) ([]float32, []int) {
		x, y := make([]float32, m*d), make([]int, m)
		for i := range m {
			y[i] = r.IntN(K)
			for j := range d {
				x[i*d+j] = float32(r.NormFloat64())
			}
			x[i*d+y[i]] += 1.5
		}
		return x, y
	}
	xtr, ytr := mk(n)
	xte, yte := mk(nt)
	got := KNN(xtr, ytr, xte, yte, d, K, KNNOptions{Workers: 3})
	ok := 0
	for i := range nt {
		cos := func(j int) float64 {
			var s, na, nb float64
			for c := range d {
				a, b := float64(xtr[j*d+c]), float64(xte[i*d+c])
				s += a * b
				na += a * a
				nb += b * b
			}
			return s / math.Sqrt(na*nb)
		}
		used := make([]bool, n)
		votes := make([]float64, K)
		for range 20 {
			best := -1
			for j := range n {
				if !used[j] && (best < 0 || cos(j) > cos(best)) {
					best = j
				}
			}
			used[best] = true
			votes[ytr[best]] += math.Exp(cos(best) / 0.07)
		}
		p := 0
		for c := range votes {
			if votes[c] > votes[p] {
				p = c
			}
		}
		if p == yte[i] {
			ok++
		}
	}
	want := float64(ok) / nt
	if got != want {
		t.Errorf("KNN %.4f, brute force %.4f", got, want)
	}
	if want < 0.5 {
		t.Errorf("the classes are separable enough for kNN: %.3f", want)
	}
}
