package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSoftmaxGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, d, K = 7, 4, 3
	X := make([]float64, n*d)
	for i := range X {
		X[i] = r.NormFloat64()
	}
	y := []int{0, 1, 2, 1, 0, 2, 2}
	w := make([]float64, K*d+K)
	for i := range w {
		w[i] = r.NormFloat64() * 0.3
	}
	g := make([]float64, len(w))
	softmaxLoss(w, g, X, y, n, d, K, 0.1, 2)
	tmp := make([]float64, len(w))
	for i := range w {
		wp := append([]float64(nil), w...)
		wm := append([]float64(nil), w...)
		wp[i] += 1e-6
		wm[i] -= 1e-6
		num := (softmaxLoss(wp, tmp, X, y, n, d, K, 0.1, 1) - softmaxLoss(wm, tmp, X, y, n, d, K, 0.1, 1)) / 2e-6
		if math.Abs(num-g[i]) > 1e-6 {
			t.Errorf("grad[%d] = %g, numerical %g", i, g[i], num)
		}
	}
}

func TestLinearProbe(t *testing.T) {
	// Two informative dimensions among noise: classes separable → held-out ≈ 1.
	r := rand.New(rand.NewPCG(7, 8))
	const d, K = 10, 4
	mk := func(n int) ([]float32, []int) {
		x, y := make([]float32, n*d), make([]int, n)
		for i := range n {
			k := i % K
			y[i] = k
			for j := range d {
				x[i*d+j] = float32(r.NormFloat64())
			}
			x[i*d+3] += float32(4 * (k % 2))
			x[i*d+7] += float32(4 * (k / 2))
		}
		return x, y
	}
	xtr, ytr := mk(400)
	xte, yte := mk(200)
	res := LinearProbe(xtr, ytr, xte, yte, d, K, ProbeOptions{Workers: 2})
	t.Logf("%+v", res)
	if res.TestAcc < 0.95 || res.TrainAcc < 0.95 {
		t.Errorf("separable data: train %.3f test %.3f", res.TrainAcc, res.TestAcc)
	}
	// Labels independent of the features: held-out ≈ chance.
	for i := range yte {
		yte[i] = r.IntN(K)
	}
	if res := LinearProbe(xtr, ytr, xte, yte, d, K, ProbeOptions{}); res.TestAcc > 0.45 {
		t.Errorf("random labels: held-out %.3f", res.TestAcc)
	}
}
