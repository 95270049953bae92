//go:build !js

package shaders

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Tuning: with the variant "tune" ($NOVAE_MATMUL=tune or SetMatMul("tune"))
// the first MatMul of each (M, N, K, weight kind) measures every candidate
// plan on the call's own inputs (GPU timestamps where the device has them,
// else the wall clock around a Sync) and keeps the fastest for the rest of
// the engine's life. The output goes to scratch, so tuning in the middle of a
// recorded sequence changes nothing but the timing of that first call.

// TuneResult is one measured candidate.
type TuneResult struct {
	Plan MatMulPlan
	MS   float64 // per run; +Inf when it failed
}

type tuneEntry struct {
	best    MatMulPlan
	results []TuneResult
}

var tuned sync.Map // tuneKey → *tuneEntry

type tuneKey struct {
	e          *Engine
	M, N, K    int
	kind       WKind
	group      int
	accumulate bool
}

// tuneCandidates lists the plans worth measuring for a shape: every register
// tile with each K step that fits, unsplit and split 2/4/8 (where every
// split keeps ≥ 128 of K), the small-M kernel for M ≤ 64, and the reference.
func tuneCandidates(l Limits, M, N, K int) []MatMulPlan {
	ps := []MatMulPlan{{Variant: "matmul"}}
	if M <= 64 {
		ps = append(ps, MatMulPlan{Variant: "matmul_smallm", MaxM: min(16, nextPow2(M))})
	}
	for _, t := range [][2]int{{128, 128}, {128, 64}, {64, 128}, {64, 64}} {
		for _, tk := range []int{8, 16} {
			if 2*tk*(t[0]+t[1])*regStorage > int(l.MaxWGStorage) {
				continue
			}
			for _, s := range []int{1, 2, 4, 8} {
				if s > 1 && K/s < 128 {
					continue
				}
				ps = append(ps, MatMulPlan{Variant: "matmul_reg", BM: t[0], BN: t[1], TK: tk, Split: s})
			}
		}
	}
	return ps
}

// TunedMatMul returns what tuning measured for a shape (nil when it was
// not tuned), fastest first.
func (e *Engine) TunedMatMul(M, N, K int, kind WKind, group int, accumulate bool) []TuneResult {
	v, ok := tuned.Load(tuneKey{e, M, N, K, kind, group, accumulate})
	if !ok {
		return nil
	}
	return v.(*tuneEntry).results
}

// tunedPlan returns the cached plan for the call's shape, tuning first if
// needed.
func (e *Engine) tunedPlan(y, x *Tensor, w Weight, ep Epilogue, p MatMulParams) MatMulPlan {
	M, N, K := int(p.M), int(p.N), int(p.K)
	key := tuneKey{e, M, N, K, w.Kind, w.Group, ep.Accumulate}
	if v, ok := tuned.Load(key); ok {
		return v.(*tuneEntry).best
	}
	auto := planMatMul(e.Limits, e.Adapter, "auto", M, N, K)
	if e.err != nil {
		return auto // tuning would clear an error recorded earlier
	}
	scratch := e.Empty(F32, M, N).Named("matmul tuning scratch")
	defer scratch.Release()
	if ep.Accumulate { // the timed runs read Y: give them defined values
		e.Copy(scratch, y)
	}
	// Inside a TimeGPU call (a benchmark timing the first, tuning run) the
	// timestamps are taken: time with the wall clock around a Sync instead.
	stamps := e.HasTimestamps() && timers.TryLock()
	if stamps {
		timers.Unlock()
	}
	const runs = 5
	var res []TuneResult
	for _, c := range tuneCandidates(e.Limits, M, N, K) {
		run := func() {
			for range runs {
				e.matmulPlan(c, scratch, x, w, ep, p)
			}
		}
		best := time.Duration(1 << 62)
		var err error
		for rep := 0; rep < 3 && err == nil; rep++ { // the first also compiles
			var d time.Duration
			if stamps {
				d, err = e.TimeGPU(run)
			} else {
				t0 := time.Now()
				run()
				err = e.Sync()
				d = time.Since(t0)
			}
			if rep > 0 {
				best = min(best, d)
			}
		}
		r := TuneResult{Plan: c, MS: best.Seconds() * 1e3 / runs}
		if err != nil {
			r.MS = inf()
		}
		res = append(res, r)
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].MS < res[j].MS })
	ent := &tuneEntry{best: auto, results: res}
	if len(res) > 0 && res[0].MS < inf() {
		ent.best = res[0].Plan
	}
	tuned.Store(key, ent)
	return ent.best
}

func inf() float64 { return 1e300 }

// String formats a tuning table line.
func (r TuneResult) String() string {
	if r.MS >= inf() {
		return fmt.Sprintf("%-32s failed", r.Plan)
	}
	return fmt.Sprintf("%-32s %9.4f ms", r.Plan, r.MS)
}
