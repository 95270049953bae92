package shaders

import (
	"fmt"
	"strconv"
)

// GroupNormParams is the WGSL Params twin of groupnorm.wgsl.
type GroupNormParams struct {
	Groups uint32 // B·G
	C      uint32
	HW     uint32
	G      uint32
	Flags  uint32 // bit0 gamma, bit1 beta, bit2 swish, bit3 in place
	Eps    float32
	Chunks uint32 // S: chunks per group (split entries)
}

// GroupNormChunk is the most values of a group one workgroup normalises:
// larger groups are split into chunks of this size over many workgroups
// (two dispatches, groupnorm.wgsl's stats and apply), smaller ones take one
// workgroup per group (one dispatch).
const GroupNormChunk = groupNormWG * groupNormE

const (
	groupNormWG = 256
	groupNormE  = 16 // values per thread, kept in registers by the split's stats pass
)

// GroupNorm records PyTorch's GroupNorm on NCHW x [B, C, H, W] (HW = H·W)
// with G groups, times gamma[c] plus beta[c] when given (either may be nil),
// then y·sigmoid(y) when swish is set (the LDM decoder's Normalize followed by
// its nonlinearity). B is x.Len()/(C·HW). y may be x.
func (e *Engine) GroupNorm(y, x, gamma, beta *Tensor, C, HW, G int, eps float32, swish bool) {
	if C <= 0 || HW <= 0 || G <= 0 || C%G != 0 || x.Len() == 0 || x.Len()%(C*HW) != 0 ||
		y.Len() != x.Len() || x.DType != F32 || y.DType != F32 {
		panic(fmt.Sprintf("shaders: GroupNorm: y %v, x %v, C=%d, HW=%d, G=%d", y, x, C, HW, G))
	}
	B := x.Len() / (C * HW)
	xb, f := normX(y, x)
	p := GroupNormParams{Groups: uint32(B * G), C: uint32(C), HW: uint32(HW), G: uint32(G),
		Flags: normAffine("GroupNorm", gamma, beta, C) | f, Eps: eps}
	if swish {
		p.Flags |= 4
	}
	k := kernel{file: "groupnorm", entry: "main", outs: 1, ins: 4, subst: map[string]string{
		"WG": strconv.Itoa(groupNormWG), "E": strconv.Itoa(groupNormE)}}
	S := ceilDiv(C/G*HW, GroupNormChunk)
	if S == 1 {
		p.Chunks = 1
		e.dispatch(k, e.grid1(B*G), p, y, xb, gamma, beta, nil)
		return
	}
	p.Chunks = uint32(S)
	part := e.Empty(F32, B*G*S, 4).Named("groupnorm partials")
	ps := p
	ps.Flags = 0 // stats reads x through its own binding, even in place
	k.entry = "stats"
	e.dispatch(k, e.grid1(B*G*S), ps, part, x, nil, nil, nil)
	k.entry = "apply"
	e.dispatch(k, e.grid1(B*G*S), p, y, xb, gamma, beta, part)
	part.Release() // back to the pool: later commands keep their order
}
