package shaders

import (
	"fmt"
	"strconv"
)

// GroupNormParams is the WGSL Params twin of groupnorm.wgsl.
type GroupNormParams struct {
	Groups uint32 // B·G workgroups
	C      uint32
	HW     uint32
	G      uint32
	Flags  uint32 // bit0 gamma, bit1 beta, bit2 swish, bit3 in place
	Eps    float32
}

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
	const wg = 256
	k := kernel{file: "groupnorm", entry: "main", outs: 1, ins: 3, subst: map[string]string{"WG": strconv.Itoa(wg)}}
	e.dispatch(k, e.grid1(B*G), p, y, xb, gamma, beta)
}
