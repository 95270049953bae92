package shaders

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// The matmul ladder. Every variant computes exactly MatMul's contract (same
// weights kinds, same epilogue) and is tested against the reference:
//
//	matmul                  the reference: 64×64 tile, 4×4 per thread, K step 16,
//	                        scalar loads, one workgroup stage (matmul.wgsl)
//	matmul_reg64x64         register-tiled (matmul_reg.wgsl main): vec4 loads of X
//	matmul_reg128x64        and W (dequantised while staging), two workgroup
//	matmul_reg64x128        stages (register prefetch of the next K step during
//	matmul_reg128x128       the current one), 4×4, 8×4, 4×8 or 8×8 outputs per
//	                        thread; suffix _tk8/_tk16 fixes the K step
//	matmul_reg…_splitS      the same with K split S ways into partial sums, then
//	                        matmul_reg.splitk_reduce applies the epilogue
//	matmul_splitk           split-K with the tile and S the cost model picks
//	matmul_smallm           few rows: W streamed once, 32 columns per workgroup
//	auto                    PlanMatMul's choice (the default)
//	tune                    measure every candidate once per shape, keep the
//	                        fastest (matmul_tune.go; native only)
//
// Selection (PlanMatMul): M ≤ 16 → matmul_smallm. On CPU drivers
// (lavapipe, SwiftShader) matmul_reg64x64 unsplit: the fewest pipelines to
// compile (SwiftShader needs seconds per register-tiled pipeline; never tune
// on CPU drivers). Otherwise the register tile, K step and split (1, 2, 3,
// 4, 6, 8, each split keeping ≥ 256 of K) that minimise a cost model
// (regCost): the busiest compute unit's workgroups, run two at a time, × the
// tile's work ÷ its efficiency, plus the partial-sum traffic and the extra
// dispatch of a split. The compute-unit count is
// guessed from the adapter's name (WebGPU does not tell). Only tiles whose
// two stages fit maxComputeWorkgroupStorageSize are considered
// (2·TK·(BM+BN)·4 bytes: 128×128 needs 16 KiB at TK 8, 32 KiB at TK 16); all
// use 256 invocations. The efficiencies are novae's own kernels measured on
// an H100 through Vulkan (tools/bench -kernel ladder): 64×64 ran at 18–20
// TFLOP/s at SVG-XL's shapes, the 128-wide tiles at 1.5–1.7 (why is not
// established; spilling of their 8×4, 4×8 and 8×8 accumulators per thread is
// the likely cause), so auto picks 64×64; the wide tiles stay in the ladder
// for other GPUs. $NOVAE_MATMUL (or Engine.SetMatMul) overrides the
// choice with a ladder name.

// MatMulPlan is how one MatMul runs.
type MatMulPlan struct {
	Variant string // "matmul", "matmul_reg" or "matmul_smallm"
	BM, BN  int    // matmul_reg tile (64 or 128 each)
	TK      int    // matmul_reg K step (8 or 16)
	Split   int    // matmul_reg K splits (1: none)
	MaxM    int    // matmul_smallm rows per workgroup (1, 2, 4, 8, 16)
}

func (p MatMulPlan) String() string {
	switch p.Variant {
	case "matmul_reg":
		s := fmt.Sprintf("matmul_reg%dx%d_tk%d", p.BM, p.BN, p.TK)
		if p.Split > 1 {
			s += fmt.Sprintf("_split%d", p.Split)
		}
		return s
	case "matmul_smallm":
		return fmt.Sprintf("matmul_smallm_m%d", p.MaxM)
	}
	return p.Variant
}

// MatMulLadder lists the variant names a benchmark walks, slowest first.
var MatMulLadder = []string{
	"matmul", "matmul_reg64x64", "matmul_reg128x64", "matmul_reg64x128",
	"matmul_reg128x128_tk8", "matmul_reg128x128_tk16", "matmul_splitk", "matmul_smallm", "auto",
}

var regName = regexp.MustCompile(`^matmul_reg(?:(64|128)x(64|128))?(?:_tk(8|16))?(?:_split(\d+))?$`)

// validMatMul reports whether name is a ladder name PlanMatMul accepts.
func validMatMul(name string) error {
	switch name {
	case "", "auto", "tune", "matmul", "matmul_smallm", "matmul_splitk":
		return nil
	}
	if regName.MatchString(name) {
		return nil
	}
	return fmt.Errorf("shaders: unknown matmul variant %q (want auto, tune, matmul, matmul_reg[BMxBN][_tkK][_splitS], matmul_splitk or matmul_smallm)", name)
}

var matmulChoice sync.Map // *Engine → string (override set by SetMatMul)

// SetMatMul makes every later MatMul on e use the named ladder variant
// ("auto" or "" restores the automatic choice). $NOVAE_MATMUL sets the same
// for every engine.
func (e *Engine) SetMatMul(name string) error {
	if err := validMatMul(name); err != nil {
		return err
	}
	matmulChoice.Store(e, name)
	return nil
}

// MatMulVariant is the override in force ("auto" when none).
func (e *Engine) MatMulVariant() string {
	if v, ok := matmulChoice.Load(e); ok && v.(string) != "" {
		return v.(string)
	}
	if v := os.Getenv("NOVAE_MATMUL"); v != "" {
		return v
	}
	return "auto"
}

// computeUnits guesses how many SMs/CUs the adapter has (WebGPU does not
// say): it only scales the cost model's waves, and a wrong guess costs
// speed, never correctness.
func computeUnits(adapter string) int {
	a := strings.ToLower(adapter)
	switch {
	case strings.Contains(a, "h100"), strings.Contains(a, "h200"), strings.Contains(a, "gh200"):
		return 132
	case strings.Contains(a, "a100"):
		return 108
	case strings.Contains(a, "l40"), strings.Contains(a, "4090"):
		return 128
	case strings.Contains(a, "[cpu"), strings.Contains(a, "swiftshader"), strings.Contains(a, "llvmpipe"):
		return 2
	case strings.Contains(a, "integrated"):
		return 8
	}
	return 48
}

// Cost model constants (a big discrete GPU; only ratios matter for the choice).
const (
	fmaPerCU   = 72e9 // FMA/s of one compute unit running two 64×64 workgroups (19 TFLOP/s on an H100 / 132 SMs / 2)
	aloneEff   = 0.6  // a workgroup alone on a compute unit (8 warps hide latency poorly) runs at 0.6 of the pair's rate
	memBW      = 3e12 // B/s for the split-K partial sums
	dispatchS  = 5e-6 // one extra dispatch (the reduce)
	regStorage = 4    // bytes per f32 in workgroup memory
)

func tileEff(bm, bn int) float64 {
	switch bm * bn {
	case 128 * 128:
		return 0.085 // 1.6 vs 19 TFLOP/s (H100, qkv and fc2 shapes)
	case 128 * 64:
		return 0.09
	}
	return 1.0
}

// regCost estimates seconds for a matmul_reg plan: the busiest compute unit
// gets n = ⌈workgroups/CUs⌉ of them and runs them two at a time (each at half
// the pair's rate), an odd last one alone (at aloneEff of the pair's rate).
func regCost(cu, M, N, K int, p MatMulPlan) float64 {
	kper := ceilDiv(K, p.Split)
	wgs := ceilDiv(M, p.BM) * ceilDiv(N, p.BN) * p.Split
	work := float64(p.BM*p.BN*kper) / tileEff(p.BM, p.BN) / fmaPerCU // one workgroup at the pair's full rate
	n := ceilDiv(wgs, cu)
	t := float64(n/2)*2*work + float64(n%2)*work/aloneEff
	if p.Split > 1 {
		t += float64(2*p.Split*M*N*4)/memBW + dispatchS
	}
	return t
}

// regTK is the K step for a tile: 16 where two stages fit, else 8 (0: none fits).
func regTK(l Limits, bm, bn, want int) int {
	for _, tk := range []int{16, 8} {
		if want != 0 && tk != want {
			continue
		}
		if 2*tk*(bm+bn)*regStorage <= int(l.MaxWGStorage) {
			return tk
		}
	}
	if want != 0 {
		return regTK(l, bm, bn, 0) // the asked K step does not fit: the largest that does
	}
	return 0
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// PlanMatMul chooses how an M×K by K×N MatMul runs on e: the override
// (SetMatMul, $NOVAE_MATMUL) if any, else the automatic rule above.
func (e *Engine) PlanMatMul(M, N, K int) MatMulPlan {
	return planMatMul(e.Limits, e.Adapter, e.MatMulVariant(), M, N, K)
}

func planMatMul(l Limits, adapter, name string, M, N, K int) MatMulPlan {
	cu := computeUnits(adapter)
	smallm := MatMulPlan{Variant: "matmul_smallm", MaxM: min(16, nextPow2(M))}
	best := func(tiles [][2]int, tk int, splits []int) MatMulPlan {
		var bp MatMulPlan
		bc := math.Inf(1)
		for _, t := range tiles {
			k := regTK(l, t[0], t[1], tk)
			if k == 0 {
				continue
			}
			for _, s := range splits {
				s = min(s, ceilDiv(K, k)) // every split gets at least one K step
				p := MatMulPlan{Variant: "matmul_reg", BM: t[0], BN: t[1], TK: k, Split: s}
				if c := regCost(cu, M, N, K, p); c < bc {
					bp, bc = p, c
				}
			}
		}
		if bp.Variant == "" { // nothing fits (never with WebGPU's 16 KiB minimum)
			return MatMulPlan{Variant: "matmul"}
		}
		return bp
	}
	allTiles := [][2]int{{128, 128}, {128, 64}, {64, 128}, {64, 64}}
	// Splits that leave every split ≥ 256 of K (fewer partial sums to add).
	var splits []int
	for _, s := range []int{1, 2, 3, 4, 6, 8} {
		if s == 1 || K/s >= 256 {
			splits = append(splits, s)
		}
	}
	switch name {
	case "matmul":
		return MatMulPlan{Variant: "matmul"}
	case "matmul_smallm":
		return smallm
	case "matmul_splitk":
		var ss []int
		for _, s := range splits {
			if s > 1 {
				ss = append(ss, s)
			}
		}
		if len(ss) == 0 {
			ss = []int{2}
		}
		return best(allTiles, 0, ss)
	case "", "auto", "tune": // tune: MatMul measures instead (matmul_tune.go)
		if M <= 16 {
			return smallm
		}
		if cu <= 2 { // CPU drivers: one plan, so one pipeline per weight kind to compile (SwiftShader takes seconds each)
			return best([][2]int{{64, 64}}, 16, []int{1})
		}
		return best(allTiles, 0, splits)
	}
	if m := regName.FindStringSubmatch(name); m != nil {
		tiles := allTiles
		if m[1] != "" {
			bm, _ := strconv.Atoi(m[1])
			bn, _ := strconv.Atoi(m[2])
			tiles = [][2]int{{bm, bn}}
		}
		tk, _ := strconv.Atoi(m[3]) // 0: any
		ss := []int{1}
		if m[4] != "" {
			s, _ := strconv.Atoi(m[4])
			ss = []int{max(1, s)}
		}
		return best(tiles, tk, ss)
	}
	return MatMulPlan{Variant: "matmul"} // an unknown name: SetMatMul refuses it; the env var falls back safely
}

// MatMulRegParams is matmul_reg.wgsl's Params twin.
type MatMulRegParams struct {
	M, N, K      uint32
	Flags        uint32
	RowsPerBatch uint32
	GateOff      uint32
	GateStride   uint32
	KSplit       uint32
	Splits       uint32
}

// regKernel is a matmul_reg.wgsl pipeline with its build tags set.
func regKernel(entry string, w Weight, xvec bool, gm, gn, tk, maxm int) kernel {
	on := func(b bool) string {
		if b {
			return ""
		}
		return "//"
	}
	k4 := w.K%4 == 0
	w32 := w.Kind == WF32 && k4
	w16 := w.Kind == WF16 && k4
	return kernel{file: "matmul_reg", entry: entry, outs: 1, ins: 5, subst: map[string]string{
		"XV": on(xvec), "XS": on(!xvec),
		"W32": on(w32), "W16": on(w16), "WU": on(!w32 && !w16),
		"WKIND": strconv.Itoa(int(w.Kind)), "GROUP": strconv.Itoa(w.Group), "GDIV": strconv.Itoa(max(w.Group, 1)),
		"WVEC": strconv.FormatBool(k4 && w.Group%4 == 0),
		"GM":   strconv.Itoa(gm), "GN": strconv.Itoa(gn), "TK": strconv.Itoa(tk),
		"MAXM": strconv.Itoa(maxm), "MC": strconv.Itoa(min(maxm, 4)),
	}}
}

// matmulReg records a matmul_reg or matmul_smallm plan. p carries the
// epilogue flags and gate view already.
func (e *Engine) matmulReg(plan MatMulPlan, y, x *Tensor, w Weight, ep Epilogue, p MatMulParams) {
	M, N, K := int(p.M), int(p.N), int(p.K)
	rp := MatMulRegParams{M: p.M, N: p.N, K: p.K, Flags: p.Flags, RowsPerBatch: p.RowsPerBatch,
		GateOff: p.GateOff, GateStride: p.GateStride, KSplit: p.K, Splits: 1}
	xvec := K%4 == 0
	flop := 2 * float64(M) * float64(N) * float64(K)
	if plan.Variant == "matmul_smallm" {
		k := regKernel("smallm", w, xvec, 1, 1, 8, plan.MaxM)
		k.flop = flop
		e.dispatch(k, [3]uint32{uint32(ceilDiv(N, 32)), uint32(ceilDiv(M, plan.MaxM)), 1}, rp,
			y, x, w.W, w.Scales, ep.Bias, ep.Gate)
		return
	}
	gm, gn := plan.BM/64, plan.BN/64
	k := regKernel("main", w, xvec, gm, gn, plan.TK, 1)
	k.flop = flop
	grid := [3]uint32{uint32(ceilDiv(N, plan.BN)), uint32(ceilDiv(M, plan.BM)), 1}
	S := max(1, plan.Split)
	if S > 1 {
		ks := ceilDiv(ceilDiv(K, S), plan.TK) * plan.TK
		S = ceilDiv(K, ks) // every split non-empty
		rp.KSplit = uint32(ks)
	}
	if S == 1 {
		e.dispatch(k, grid, rp, y, x, w.W, w.Scales, ep.Bias, ep.Gate)
		return
	}
	part := e.Empty(F32, S, M, N).Named("matmul partial sums")
	pp := rp
	pp.Flags = 32 // raw sums, no epilogue
	grid[2] = uint32(S)
	e.dispatch(k, grid, pp, part, x, w.W, w.Scales, nil, nil)
	rp.Splits = uint32(S)
	red := regKernel("splitk_reduce", Weight{Kind: WInt8, K: 1}, false, 1, 1, 8, 1)
	e.dispatch(red, e.grid1(ceilDiv(M*N, 256)), rp, y, part, nil, nil, ep.Bias, ep.Gate)
	part.Release() // back to the pool: later commands keep their order
}
