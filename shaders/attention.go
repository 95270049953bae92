package shaders

import (
	"fmt"
	"math"
	"strconv"
)

// View is a strided window onto a tensor: element (b, h, t, d) — batch item,
// head, token, head dim — is element Off + b·BatchStride + h·HeadStride +
// t·TokStride + d·DimStride of Tensor. Attention reads and writes through
// views so that neither the packed qkv of a Linear nor NCHW conv outputs need
// a copy. ref.View is its CPU twin.
type View struct {
	Tensor                                             *Tensor
	Off, TokStride, HeadStride, DimStride, BatchStride int
}

// QKVViews splits the output of a qkv Linear, [B,T,3·NH·HD], the way PyTorch's
// reshape(B,T,3,NH,HD) does: q, k, v, then heads, then the head dim.
func QKVViews(qkv *Tensor, T, NH, HD int) (q, k, v View) {
	row := 3 * NH * HD
	q = View{Tensor: qkv, TokStride: row, HeadStride: HD, DimStride: 1, BatchStride: T * row}
	k, v = q, q
	k.Off, v.Off = NH*HD, 2*NH*HD
	return
}

// TokensView is a token-major [B,T,NH·HD] tensor (a row per token, heads
// side by side): attention's usual output, what the proj Linear reads.
func TokensView(x *Tensor, T, NH, HD int) View {
	return View{Tensor: x, TokStride: NH * HD, HeadStride: HD, DimStride: 1, BatchStride: T * NH * HD}
}

// ChannelsView is a channel-major [B,NH·HD,HW] tensor (NCHW, H·W flattened):
// the tokens are the HW positions and head h owns channels h·HD…. The
// decoder's AttnBlock is ChannelsView(x, 1, C, H·W) for q, k, v and output.
func ChannelsView(x *Tensor, NH, HD, HW int) View {
	return View{Tensor: x, TokStride: 1, HeadStride: HD * HW, DimStride: HW, BatchStride: NH * HD * HW}
}

// check panics unless every element of the B×NH×T×HD view lies in its tensor.
func (v View) check(what string, B, T, NH, HD int) {
	if v.Tensor == nil {
		panic(fmt.Sprintf("shaders: Attention: %s has no tensor", what))
	}
	if v.Tensor.DType != F32 {
		panic(fmt.Sprintf("shaders: Attention: %s %v is not f32", what, v.Tensor))
	}
	if v.Off < 0 || v.TokStride < 0 || v.HeadStride < 0 || v.DimStride < 0 || v.BatchStride < 0 {
		panic(fmt.Sprintf("shaders: Attention: %s view %+v has a negative offset or stride", what, v))
	}
	last := v.Off + (B-1)*v.BatchStride + (NH-1)*v.HeadStride + (T-1)*v.TokStride + (HD-1)*v.DimStride
	if last >= v.Tensor.Len() {
		panic(fmt.Sprintf("shaders: Attention: %s view reaches element %d of %v (B=%d T=%d NH=%d HD=%d, strides %+v)",
			what, last, v.Tensor, B, T, NH, HD, v))
	}
}

// AttentionParams is the WGSL Params twin.
type AttentionParams struct {
	B, T, NH, NQB                   uint32
	Scale                           float32 // softmax scale × log2(e)
	OOff, OTok, OHead, ODim, OBatch uint32
	QOff, QTok, QHead, QDim, QBatch uint32
	KOff, KTok, KHead, KDim, KBatch uint32
	VOff, VTok, VHead, VDim, VBatch uint32
	KSpan, Splits                   uint32 // keys per split, splits (1: none)
	MLOff                           uint32 // split scratch: where the (m, l) pairs start
}

// PlanAttention names the attention kernel that runs for head dim HD on e:
// Engine.AttnKernel if set and it fits, else attention_tiled (register
// tiles, attention_tiled.wgsl) where it fits — head dims up to 128 and 32
// KiB of workgroup memory — on a GPU, and attention (one query row per
// thread strip, 16 KiB, any head dim up to 1024) otherwise. CPU drivers keep
// the latter: never tune on them.
func (e *Engine) PlanAttention(HD int) string {
	tiled := HD <= 128 && e.Limits.MaxWGStorage >= 32<<10
	switch e.AttnKernel {
	case "attention":
		return "attention"
	case "attention_tiled":
		if tiled {
			return "attention_tiled"
		}
		return "attention"
	}
	if tiled && computeUnits(e.Adapter) > 2 {
		return "attention_tiled"
	}
	return "attention"
}

// attnTiledStage sizes attention_tiled's staging area: what 16 KiB of P and
// 4 KiB of row reductions leave of 32 KiB, holding the Q and K chunks
// (2·16·65 floats) and then VK keys of V.
func attnTiledStage(HD int) (vk, stage int) {
	budget := 8192 - 4096 - 1024
	vk = min(32, budget/HD)
	return vk, max(2*16*65, vk*HD)
}

// PlanAttnSplit is how many parts attention's keys are split into on e when
// the (batch, head, query block) workgroups are wgs: with fewer than one per
// compute unit (the decoder's one head of 512 channels at T=256 has 32), the
// keys are split so about two workgroups per compute unit run, in parts of
// whole 64-key blocks; a combine dispatch merges them. CPU drivers never split.
func (e *Engine) PlanAttnSplit(wgs, T int) int {
	return planAttnSplit(e.Adapter, wgs, T)
}

func planAttnSplit(adapter string, wgs, T int) int {
	cu := computeUnits(adapter)
	if cu <= 2 || wgs >= cu {
		return 1
	}
	return max(1, min(ceilDiv(T, 64), ceilDiv(2*cu, wgs), 16))
}

// attnWGFloats is the workgroup memory attention may use, in floats: 16 KiB,
// WebGPU's default limit, so the kernel runs everywhere.
const attnWGFloats = 4096

// attnTiles picks the tiling for head dim HD (see attention.wgsl): query rows
// per workgroup bq, the score phase's head-dim chunk dc, keys per V stage vk,
// and the staging area in floats. It panics for HD over 1024.
func attnTiles(HD int) (bq, dc, vk, stage int) {
	const bk, wg = 64, 256
	switch {
	case HD <= 128:
		bq, dc = 32, 16
	case HD <= 256:
		bq, dc = 16, 32
	case HD <= 512:
		bq, dc = 8, 32
	case HD <= 1024:
		bq, dc = 4, 32
	default:
		panic(fmt.Sprintf("shaders: Attention: head dim %d over 1024", HD))
	}
	budget := attnWGFloats - bq*bk - wg // what ps and red leave
	vk = min(bk, budget/HD)
	stage = max((bq+bk)*(dc+1), vk*HD)
	if stage > budget || vk < 1 {
		panic(fmt.Sprintf("shaders: Attention: no tiling for head dim %d", HD))
	}
	return
}

// Attention records out = softmax(q·kᵀ·scale)·v for each of B batch items and
// NH heads over T tokens of head dim HD (1…1024), with no mask. out must not
// share a tensor with q, k or v; q, k and v may share one (packed qkv).
func (e *Engine) Attention(out, q, k, v View, B, T, NH, HD int, scale float32) {
	if B < 1 || T < 1 || NH < 1 || HD < 1 {
		panic(fmt.Sprintf("shaders: Attention: B=%d T=%d NH=%d HD=%d", B, T, NH, HD))
	}
	out.check("out", B, T, NH, HD)
	q.check("q", B, T, NH, HD)
	k.check("k", B, T, NH, HD)
	v.check("v", B, T, NH, HD)
	if out.Tensor == q.Tensor || out.Tensor == k.Tensor || out.Tensor == v.Tensor {
		panic("shaders: Attention: out must not be the q, k or v tensor")
	}
	bq, dc, vk, stage := attnTiles(HD)
	tiles := map[string]string{"HD": strconv.Itoa(HD), "BQ": strconv.Itoa(bq), "DC": strconv.Itoa(dc),
		"VK": strconv.Itoa(vk), "STAGE": strconv.Itoa(stage)}
	kn := kernel{file: "attention", entry: "main", outs: 1, ins: 3, subst: tiles}
	if e.PlanAttention(HD) == "attention_tiled" {
		bq = 64
		tvk, tstage := attnTiledStage(HD)
		kn.file, kn.subst = "attention_tiled", map[string]string{"HD": strconv.Itoa(HD),
			"VK": strconv.Itoa(tvk), "STAGE": strconv.Itoa(tstage)}
	}
	nqb := ceilDiv(T, bq)
	u := func(x int) uint32 { return uint32(x) }
	p := AttentionParams{B: u(B), T: u(T), NH: u(NH), NQB: u(nqb), Scale: scale * math.Log2E,
		OOff: u(out.Off), OTok: u(out.TokStride), OHead: u(out.HeadStride), ODim: u(out.DimStride), OBatch: u(out.BatchStride),
		QOff: u(q.Off), QTok: u(q.TokStride), QHead: u(q.HeadStride), QDim: u(q.DimStride), QBatch: u(q.BatchStride),
		KOff: u(k.Off), KTok: u(k.TokStride), KHead: u(k.HeadStride), KDim: u(k.DimStride), KBatch: u(k.BatchStride),
		VOff: u(v.Off), VTok: u(v.TokStride), VHead: u(v.HeadStride), VDim: u(v.DimStride), VBatch: u(v.BatchStride)}
	kn.flop = 4 * float64(B*NH) * float64(T) * float64(T) * float64(HD)
	S := e.AttnSplit
	if S <= 0 {
		S = e.PlanAttnSplit(B*NH*nqb, T)
	}
	span := ceilDiv(ceilDiv(T, max(1, S)), 64) * 64
	S = ceilDiv(T, span) // every split non-empty
	rows := B * NH * T
	if S > 1 && uint64(S*rows*(HD+2)*4) > e.Limits.MaxTensor() {
		S, span = 1, T
	}
	p.KSpan, p.Splits = u(span), u(S)
	if S == 1 {
		e.dispatch(kn, e.grid1(B*NH*nqb), p, out.Tensor, q.Tensor, k.Tensor, v.Tensor)
		return
	}
	p.MLOff = u(S * rows * HD)
	part := e.Empty(F32, S*rows*(HD+2)).Named("attention split partials")
	e.dispatch(kn, e.grid1(B*NH*nqb*S), p, part, q.Tensor, k.Tensor, v.Tensor)
	comb := kernel{file: "attention", entry: "combine", outs: 1, ins: 3, subst: tiles}
	e.dispatch(comb, e.grid1(ceilDiv(rows*HD, 256)), p, out.Tensor, part, nil, nil)
	part.Release() // back to the pool: later commands keep their order
}
