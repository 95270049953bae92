package eval

// Linear probe: multinomial logistic regression on fixed features, fitted
// by L-BFGS on the mean cross-entropy + λ/2·|W|² (bias not penalised).
// Features are standardised with the training set's per-dimension mean
// and std first. λ = 1/N_train is scikit-learn's default (C = 1 on the
// summed loss).

import (
	"math"
	"sync"
)

// ProbeOptions configure a probe fit.
type ProbeOptions struct {
	Lambda  float64 // L2 on the weights (0: 1/N_train)
	Iters   int     // L-BFGS iterations (0: 300)
	Workers int
}

// ProbeResult is a fitted probe's scores.
type ProbeResult struct {
	Dim      int     `json:"dim"`
	TrainN   int     `json:"train_n"`
	TestN    int     `json:"test_n"`
	TrainAcc float64 `json:"train_accuracy"`
	TestAcc  float64 `json:"test_accuracy"`
	Lambda   float64 `json:"l2"`
	Iters    int     `json:"iterations"`
	Loss     float64 `json:"final_loss"`
}

// LinearProbe fits on (trainX [n,d], trainY) and scores on (testX, testY).
func LinearProbe(trainX []float32, trainY []int, testX []float32, testY []int, d, K int, o ProbeOptions) ProbeResult {
	n, nt := len(trainY), len(testY)
	if o.Lambda == 0 {
		o.Lambda = 1 / float64(n)
	}
	if o.Iters == 0 {
		o.Iters = 300
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	mean, std := make([]float64, d), make([]float64, d)
	for i := range n {
		for j, v := range trainX[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range trainX[i*d : (i+1)*d] {
			dv := float64(v) - mean[j]
			std[j] += dv * dv
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(n))
		if std[j] < 1e-8 {
			std[j] = 1 // constant feature: leave it centred at 0
		}
	}
	stdz := func(x []float32, m int) []float64 {
		out := make([]float64, m*d)
		for i := range m {
			for j := range d {
				out[i*d+j] = (float64(x[i*d+j]) - mean[j]) / std[j]
			}
		}
		return out
	}
	X, Xt := stdz(trainX, n), stdz(testX, nt)
	P := K*d + K // W [K,d] then b [K]
	f := func(w, grad []float64) float64 {
		return softmaxLoss(w, grad, X, trainY, n, d, K, o.Lambda, o.Workers)
	}
	w := make([]float64, P)
	iters, loss := lbfgs(f, w, o.Iters, 10)
	return ProbeResult{Dim: d, TrainN: n, TestN: nt, Lambda: o.Lambda, Iters: iters, Loss: loss,
		TrainAcc: probeAcc(w, X, trainY, d, K), TestAcc: probeAcc(w, Xt, testY, d, K)}
}

func logits(w, x []float64, d, K int, out []float64) {
	for k := range K {
		s := w[K*d+k]
		wk := w[k*d : (k+1)*d]
		for j, v := range x {
			s += wk[j] * v
		}
		out[k] = s
	}
}

func probeAcc(w, X []float64, y []int, d, K int) float64 {
	if len(y) == 0 {
		return 0
	}
	z := make([]float64, K)
	ok := 0
	for i, yi := range y {
		logits(w, X[i*d:(i+1)*d], d, K, z)
		best := 0
		for k := range z {
			if z[k] > z[best] {
				best = k
			}
		}
		if best == yi {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

// softmaxLoss returns the mean cross-entropy + λ/2|W|² and writes its gradient.
func softmaxLoss(w, grad, X []float64, y []int, n, d, K int, lambda float64, workers int) float64 {
	type part struct {
		loss float64
		g    []float64
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for p := range workers {
		lo, hi := p*per, min(n, (p+1)*per)
		parts[p].g = make([]float64, len(w))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := parts[p].g
			z := make([]float64, K)
			var loss float64
			for i := lo; i < hi; i++ {
				x := X[i*d : (i+1)*d]
				logits(w, x, d, K, z)
				mx := z[0]
				for _, v := range z {
					mx = max(mx, v)
				}
				var s float64
				for k := range z {
					z[k] = math.Exp(z[k] - mx)
					s += z[k]
				}
				loss += math.Log(s) + mx - (math.Log(z[y[i]]) + mx)
				for k := range z {
					pk := z[k] / s
					if k == y[i] {
						pk--
					}
					if pk == 0 {
						continue
					}
					gk := g[k*d : (k+1)*d]
					for j, v := range x {
						gk[j] += pk * v
					}
					g[K*d+k] += pk
				}
			}
			parts[p].loss = loss
		}()
	}
	wg.Wait()
	clear(grad)
	var loss float64
	for _, p := range parts {
		loss += p.loss
		for i, v := range p.g {
			grad[i] += v
		}
	}
	inv := 1 / float64(n)
	loss *= inv
	for i := range grad {
		grad[i] *= inv
	}
	for i := range K * d {
		loss += lambda / 2 * w[i] * w[i]
		grad[i] += lambda * w[i]
	}
	return loss
}

// lbfgs minimises f from x (updated in place) with limited-memory BFGS (m
// pairs) and a backtracking Armijo line search; returns the iterations done
// and the final value.
func lbfgs(f func(x, g []float64) float64, x []float64, iters, m int) (int, float64) {
	P := len(x)
	g := make([]float64, P)
	fx := f(x, g)
	var S, Y [][]float64
	var rho []float64
	dir := make([]float64, P)
	xn, gn := make([]float64, P), make([]float64, P)
	alpha := make([]float64, m)
	dotp := func(a, b []float64) float64 {
		var s float64
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	it := 0
	for ; it < iters; it++ {
		if math.Sqrt(dotp(g, g)) < 1e-6 {
			break
		}
		// two-loop recursion: dir = −H·g
		copy(dir, g)
		for i := len(S) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dotp(S[i], dir)
			for j := range dir {
				dir[j] -= alpha[i] * Y[i][j]
			}
		}
		if len(S) > 0 {
			k := len(S) - 1
			gamma := dotp(S[k], Y[k]) / dotp(Y[k], Y[k])
			for j := range dir {
				dir[j] *= gamma
			}
		}
		for i := range S {
			beta := rho[i] * dotp(Y[i], dir)
			for j := range dir {
				dir[j] += S[i][j] * (alpha[i] - beta)
			}
		}
		for j := range dir {
			dir[j] = -dir[j]
		}
		slope := dotp(g, dir)
		if slope >= 0 { // not a descent direction: restart from steepest descent
			S, Y, rho = nil, nil, nil
			for j := range dir {
				dir[j] = -g[j]
			}
			slope = dotp(g, dir)
		}
		step := 1.0
		if len(S) == 0 {
			step = 1 / max(1, math.Sqrt(dotp(g, g)))
		}
		var fn float64
		ok := false
		for ls := 0; ls < 40; ls++ {
			for j := range x {
				xn[j] = x[j] + step*dir[j]
			}
			fn = f(xn, gn)
			if fn <= fx+1e-4*step*slope {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			break
		}
		s, y := make([]float64, P), make([]float64, P)
		for j := range x {
			s[j], y[j] = xn[j]-x[j], gn[j]-g[j]
		}
		copy(x, xn)
		copy(g, gn)
		improved := fx - fn
		fx = fn
		if sy := dotp(s, y); sy > 1e-12 {
			if len(S) == m {
				S, Y, rho = S[1:], Y[1:], rho[1:]
			}
			S, Y, rho = append(S, s), append(Y, y), append(rho, 1/sy)
		}
		if improved < 1e-10*max(1, math.Abs(fx)) {
			it++
			break
		}
	}
	return it, fx
}
