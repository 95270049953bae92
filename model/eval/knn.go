package eval

// Weighted k-nearest-neighbour classification, the DINO paper's protocol for
// frozen features: cosine similarity to every memory image, the k most
// similar vote for their class with weight exp(sim/T). k = 20, T = 0.07 as
// DINO (and tools/eval/probe.py) use.

import (
	"math"
	"sort"
	"sync"
)

// KNNOptions configure KNN; zero values take DINO's k = 20, T = 0.07.
type KNNOptions struct {
	K       int
	Temp    float64
	Workers int
}

// KNN returns the held-out accuracy of the weighted cosine kNN classifier
// with (trainX [n,d], trainY) as its memory.
func KNN(trainX []float32, trainY []int, testX []float32, testY []int, d, classes int, o KNNOptions) float64 {
	if o.K == 0 {
		o.K = 20
	}
	if o.Temp == 0 {
		o.Temp = 0.07
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	n, nt := len(trainY), len(testY)
	if n == 0 || nt == 0 {
		return 0
	}
	k := min(o.K, n)
	unit := func(x []float32, m int) []float64 {
		out := make([]float64, m*d)
		for i := range m {
			row, s := x[i*d:(i+1)*d], 0.0
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			s = 1 / math.Max(math.Sqrt(s), 1e-12)
			for j, v := range row {
				out[i*d+j] = float64(v) * s
			}
		}
		return out
	}
	A, B := unit(trainX, n), unit(testX, nt)
	correct := make([]bool, nt)
	var wg sync.WaitGroup
	per := (nt + o.Workers - 1) / o.Workers
	for w := range o.Workers {
		lo, hi := w*per, min(nt, (w+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sim := make([]float64, n)
			idx := make([]int, n)
			votes := make([]float64, classes)
			for i := lo; i < hi; i++ {
				b := B[i*d : (i+1)*d]
				for j := range n {
					a, s := A[j*d:(j+1)*d], 0.0
					for c, v := range b {
						s += v * a[c]
					}
					sim[j], idx[j] = s, j
				}
				// Ties broken by index so the verdict does not depend on the sort.
				sort.Slice(idx, func(p, q int) bool {
					if sim[idx[p]] != sim[idx[q]] {
						return sim[idx[p]] > sim[idx[q]]
					}
					return idx[p] < idx[q]
				})
				clear(votes)
				for _, j := range idx[:k] {
					votes[trainY[j]] += math.Exp(sim[j] / o.Temp)
				}
				best := 0
				for c := range votes {
					if votes[c] > votes[best] {
						best = c
					}
				}
				correct[i] = best == testY[i]
			}
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range correct {
		if c {
			ok++
		}
	}
	return float64(ok) / float64(nt)
}
