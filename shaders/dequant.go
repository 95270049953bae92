package shaders

import (
	"fmt"
	"strconv"
)

// DequantParams is the WGSL Params twin.
type DequantParams struct{ N, K uint32 }

// Dequantize records y = W as f32 [N,K] (y has N·K elements, any shape).
// For f32 weights it is a copy.
func (e *Engine) Dequantize(y *Tensor, w Weight) {
	if err := w.check(); err != nil {
		panic("shaders: Dequantize: " + err.Error())
	}
	if y.Len() != w.N*w.K || y.DType != F32 {
		panic(fmt.Sprintf("shaders: Dequantize: y %v for a [%d,%d] weight", y, w.N, w.K))
	}
	if w.Kind == WF32 {
		e.Copy(y, w.W)
		return
	}
	k := kernel{file: "dequant", entry: "main", outs: 1, ins: 2, subst: map[string]string{
		"WKIND": strconv.Itoa(int(w.Kind)), "GROUP": strconv.Itoa(w.Group), "GDIV": strconv.Itoa(max(w.Group, 1))}}
	e.dispatch(k, e.grid1(ceilDiv(w.N*w.K, 256)), DequantParams{N: uint32(w.N), K: uint32(w.K)}, y, w.W, w.Scales)
}
