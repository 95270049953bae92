package shaders_test

import (
	"fmt"
	"math"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

type attnCase struct {
	B, T, NH, HD int
	nchw         bool    // q, k, v, out are separate [B,NH·HD,T] tensors (decoder AttnBlock)
	sharp        float64 // scores scaled to std ≈ sharp (0: the usual HD^-½): tests the online max
}

func (c attnCase) String() string {
	s := fmt.Sprintf("B=%d,T=%d,NH=%d,HD=%d", c.B, c.T, c.NH, c.HD)
	if c.nchw {
		s += ",layout=nchw"
	}
	if c.sharp > 0 {
		s += fmt.Sprintf(",sharp=%g", c.sharp)
	}
	return s
}

var attnCases = []attnCase{
	{B: 1, T: 1, NH: 1, HD: 32},
	{B: 2, T: 7, NH: 3, HD: 48},                // residual ViT head dim
	{B: 1, T: 261, NH: 6, HD: 64},              // DINOv3-S: cls + 4 registers + 256 patches
	{B: 2, T: 17, NH: 2, HD: 72},               // SVG-XL DiT head dim
	{B: 2, T: 65, NH: 2, HD: 20, nchw: true},   // head dim not a multiple of the lanes
	{B: 1, T: 70, NH: 2, HD: 200, nchw: true},  // the BQ=16 tiling
	{B: 1, T: 256, NH: 1, HD: 512, nchw: true}, // decoder AttnBlock at 16×16, C=512
	{B: 1, T: 1024, NH: 1, HD: 64},             // long sequence
	{B: 1, T: 1100, NH: 2, HD: 64},             // longer, not a multiple of any tile
	{B: 2, T: 256, NH: 2, HD: 72},              // SVG-XL's DiT sequence
	// Scores with std 30 (max ≈ 120): exp of a raw score overflows f32
	// (> 88.7), so only a max-subtracting softmax passes.
	{B: 2, T: 77, NH: 3, HD: 72, sharp: 30},
	{B: 1, T: 300, NH: 1, HD: 512, nchw: true, sharp: 30},
}

// TestAttention: GPU against ref.Attention (float64) on random q, k, v ~ N(0,1)
// with scale HD^-½. Tolerance 2e-6 abs + 1e-5 rel for every case: the
// output is a convex combination of v, so the f32 error is that of the
// weights (exp2 of scores with HD-term dot products) and of sums of ≤1024
// terms, both well under 1e-5 relative; T=1024 and HD=512 stay within it.
func TestAttention(t *testing.T) { testAttention(t, attnCases) }

// TestAttentionSplit: keys split over several workgroups and merged by the
// combine pass (Engine.AttnSplit), odd splits and a short last split, in
// both layouts and with std-30 scores; tolerances as TestAttention.
func TestAttentionSplit(t *testing.T) {
	for _, split := range []int{2, 3, 5} {
		eng.AttnSplit = split
		t.Run(fmt.Sprintf("split=%d", split), func(t *testing.T) {
			testAttention(t, []attnCase{
				{B: 2, T: 130, NH: 3, HD: 48},
				{B: 1, T: 256, NH: 1, HD: 512, nchw: true}, // decoder AttnBlock
				{B: 2, T: 256, NH: 2, HD: 72},              // DiT
				{B: 1, T: 300, NH: 1, HD: 512, nchw: true, sharp: 30},
				{B: 2, T: 77, NH: 3, HD: 72, sharp: 30},
				{B: 1, T: 7, NH: 2, HD: 20}, // one key block: no split
			})
		})
	}
	eng.AttnSplit = 0
}

// TestAttentionTiled: the register-tiled kernel (attention_tiled.wgsl) on
// every head dim it serves (≤ 128), both layouts, partial query and key
// blocks, std-30 scores, unsplit and split; tolerances as TestAttention.
func TestAttentionTiled(t *testing.T) {
	eng.AttnKernel = "attention_tiled"
	defer func() { eng.AttnKernel, eng.AttnSplit = "", 0 }()
	if got := eng.PlanAttention(72); got != "attention_tiled" {
		if eng.Limits.MaxWGStorage >= 32<<10 {
			t.Fatalf("forced attention_tiled with %d bytes of workgroup memory, but %s runs", eng.Limits.MaxWGStorage, got)
		}
		t.Logf("the device gives %d bytes of workgroup memory, attention_tiled needs 32 KiB: checking that the forced choice falls back to %s", eng.Limits.MaxWGStorage, got)
	}
	cases := []attnCase{
		{B: 1, T: 1, NH: 1, HD: 32},
		{B: 2, T: 7, NH: 3, HD: 48},
		{B: 2, T: 17, NH: 2, HD: 72},
		{B: 2, T: 65, NH: 2, HD: 20, nchw: true},
		{B: 1, T: 261, NH: 6, HD: 64}, // DINOv3-S
		{B: 2, T: 256, NH: 2, HD: 72}, // SVG-XL's DiT
		{B: 1, T: 130, NH: 1, HD: 128, nchw: true},
		{B: 1, T: 100, NH: 2, HD: 100}, // head dim not a multiple of 16
		{B: 2, T: 77, NH: 3, HD: 72, sharp: 30},
	}
	for _, split := range []int{1, 3} {
		eng.AttnSplit = split
		t.Run(fmt.Sprintf("split=%d", split), func(t *testing.T) { testAttention(t, cases) })
	}
}

func testAttention(t *testing.T, cases []attnCase) {
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			rng := seeded(c.String())
			scale := float32(1 / math.Sqrt(float64(c.HD)))
			atol, rtol := 2e-6, 1e-5
			if c.sharp > 0 {
				// The f32 rounding of a score grows with Σ|q_i·k_i|·scale
				// (≈ 450 at HD 512 here) and moves its weight by that much
				// relatively: measured ≤ 9.6e-5 abs. A softmax without the
				// running max gives Inf/NaN here, far outside any bound.
				scale *= float32(c.sharp)
				atol, rtol = 3e-4, 1e-4
			}
			var got, want []float32
			if c.nchw {
				n := c.B * c.NH * c.HD * c.T
				qs, ks, vs := randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1)
				qt, kt, vt := eng.Upload(qs, c.B, c.NH*c.HD, c.T), eng.Upload(ks, c.B, c.NH*c.HD, c.T), eng.Upload(vs, c.B, c.NH*c.HD, c.T)
				ot := eng.Empty(shaders.F32, c.B, c.NH*c.HD, c.T)
				cv := func(x *shaders.Tensor) shaders.View { return shaders.ChannelsView(x, c.NH, c.HD, c.T) }
				eng.Attention(cv(ot), cv(qt), cv(kt), cv(vt), c.B, c.T, c.NH, c.HD, scale)
				got = read(t, ot)
				for _, x := range []*shaders.Tensor{qt, kt, vt, ot} {
					x.Release()
				}
				want = make([]float32, n)
				rv := func(x []float32) ref.View { return ref.ChannelsView(x, c.NH, c.HD, c.T) }
				ref.Attention(rv(want), rv(qs), rv(ks), rv(vs), c.B, c.T, c.NH, c.HD, scale)
			} else {
				qkv := randn(rng, c.B*c.T*3*c.NH*c.HD, 1)
				xt := eng.Upload(qkv, c.B, c.T, 3*c.NH*c.HD)
				ot := eng.Empty(shaders.F32, c.B, c.T, c.NH*c.HD)
				q, k, v := shaders.QKVViews(xt, c.T, c.NH, c.HD)
				eng.Attention(shaders.TokensView(ot, c.T, c.NH, c.HD), q, k, v, c.B, c.T, c.NH, c.HD, scale)
				got = read(t, ot)
				xt.Release()
				ot.Release()
				want = make([]float32, c.B*c.T*c.NH*c.HD)
				rq, rk, rvv := ref.QKVViews(qkv, c.T, c.NH, c.HD)
				ref.Attention(ref.TokensView(want, c.T, c.NH, c.HD), rq, rk, rvv, c.B, c.T, c.NH, c.HD, scale)
			}
			check(t, "attention", got, want, atol, rtol)
		})
	}
}

// TestAttentionViews: q, k, v from NCHW tensors at an offset into a larger
// buffer, output token-major: mixed views and a nonzero Off (tolerance as
// TestAttention).
func TestAttentionViews(t *testing.T) {
	const B, T, NH, HD, pad = 2, 40, 2, 24, 5
	rng := seeded("AttentionViews")
	n := B * NH * HD * T
	all := randn(rng, pad+3*n, 1)
	xt := eng.Upload(all, pad+3*n)
	ot := eng.Empty(shaders.F32, B, T, NH*HD)
	var gv [3]shaders.View
	var rv [3]ref.View
	for i := range 3 {
		gv[i] = shaders.ChannelsView(xt, NH, HD, T)
		gv[i].Off = pad + i*n
		rv[i] = ref.ChannelsView(all, NH, HD, T)
		rv[i].Off = pad + i*n
	}
	scale := float32(0.3)
	eng.Attention(shaders.TokensView(ot, T, NH, HD), gv[0], gv[1], gv[2], B, T, NH, HD, scale)
	got := read(t, ot)
	xt.Release()
	ot.Release()
	want := make([]float32, B*T*NH*HD)
	ref.Attention(ref.TokensView(want, T, NH, HD), rv[0], rv[1], rv[2], B, T, NH, HD, scale)
	check(t, "attention", got, want, 2e-6, 1e-5)
}

// TestAttentionRefSoftmax pins ref.Attention itself on a case small enough
// to write out: one query, two keys with scores 0 and ln 3 → weights ¼, ¾.
func TestAttentionRefSoftmax(t *testing.T) {
	// T=2, HD=1: q = [1, 1], k = [0, ln3], v = [4, 8]; query 0 scores 0, ln 3.
	q := []float32{1, 1}
	k := []float32{0, float32(math.Log(3))}
	v := []float32{4, 8}
	out := make([]float32, 2)
	view := func(x []float32) ref.View { return ref.TokensView(x, 2, 1, 1) }
	ref.Attention(view(out), view(q), view(k), view(v), 1, 2, 1, 1, 1)
	check(t, "ref", out, []float32{7, 7}, 1e-6, 0) // ¼·4 + ¾·8
}

// BenchmarkAttention runs SVG's real attention shapes; it reports GFLOP/s
// counting 4·T²·HD per (batch, head) (Q·Kᵀ and P·V).
func BenchmarkAttention(b *testing.B) {
	for _, c := range []attnCase{
		{B: 1, T: 261, NH: 6, HD: 64},              // DINOv3-S+
		{B: 1, T: 257, NH: 8, HD: 48},              // residual ViT
		{B: 2, T: 256, NH: 16, HD: 72},             // SVG-XL DiT, CFG pair
		{B: 1, T: 256, NH: 1, HD: 512, nchw: true}, // decoder AttnBlock
	} {
		n := c.B * c.T * c.NH * c.HD
		flop := 4 * float64(c.B*c.NH) * float64(c.T) * float64(c.T) * float64(c.HD)
		rng := seeded(c.String())
		q, k, v := randn(rng, n, 1), randn(rng, n, 1), randn(rng, n, 1)
		scale := float32(1 / math.Sqrt(float64(c.HD)))
		views := func(x []float32) ref.View { return ref.TokensView(x, c.T, c.NH, c.HD) }
		if c.nchw {
			views = func(x []float32) ref.View { return ref.ChannelsView(x, c.NH, c.HD, c.T) }
		}
		b.Run(c.String()+"/ref", func(b *testing.B) {
			out := make([]float32, n)
			for b.Loop() {
				ref.Attention(views(out), views(q), views(k), views(v), c.B, c.T, c.NH, c.HD, scale)
			}
			b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(c.String()+"/gpu", func(b *testing.B) {
			gview := func(x *shaders.Tensor) shaders.View { return shaders.TokensView(x, c.T, c.NH, c.HD) }
			if c.nchw {
				gview = func(x *shaders.Tensor) shaders.View { return shaders.ChannelsView(x, c.NH, c.HD, c.T) }
			}
			qt, kt, vt, ot := eng.Upload(q, n), eng.Upload(k, n), eng.Upload(v, n), eng.Empty(shaders.F32, n)
			run := func() {
				eng.Attention(gview(ot), gview(qt), gview(kt), gview(vt), c.B, c.T, c.NH, c.HD, scale)
				if err := eng.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			run() // compile and warm up
			for b.Loop() {
				run()
			}
			b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			for _, x := range []*shaders.Tensor{qt, kt, vt, ot} {
				x.Release()
			}
		})
	}
}

// withFoldedGrids lowers the engine's workgroups-per-dimension limit so that
// small dispatches take the 2-D folded path (grid1 + flat_wg) that real ones
// take only past 65535 workgroups, too slow to reach on lavapipe.
func withFoldedGrids(t *testing.T, max uint32, f func()) {
	t.Helper()
	old := eng.Limits.MaxWGPerDim
	eng.Limits.MaxWGPerDim = max
	defer func() { eng.Limits.MaxWGPerDim = old }()
	f()
}

// TestAttentionFoldedGrid: 18 workgroups folded as 5×4 (two of them padding).
// Tolerance as TestAttention.
func TestAttentionFoldedGrid(t *testing.T) {
	const B, T, NH, HD = 2, 70, 3, 16
	qkv := randn(seeded("AttentionFoldedGrid"), B*T*3*NH*HD, 1)
	xt := eng.Upload(qkv, B, T, 3*NH*HD)
	ot := eng.Empty(shaders.F32, B, T, NH*HD)
	q, k, v := shaders.QKVViews(xt, T, NH, HD)
	withFoldedGrids(t, 5, func() {
		eng.Attention(shaders.TokensView(ot, T, NH, HD), q, k, v, B, T, NH, HD, 0.25)
	})
	got := read(t, ot)
	xt.Release()
	ot.Release()
	want := make([]float32, B*T*NH*HD)
	rq, rk, rv := ref.QKVViews(qkv, T, NH, HD)
	ref.Attention(ref.TokensView(want, T, NH, HD), rq, rk, rv, B, T, NH, HD, 0.25)
	check(t, "attention", got, want, 2e-6, 1e-5)
}
