package shaders

import (
	"fmt"
	"math"
)

// TimeEmbedParams is the WGSL Params twin.
type TimeEmbedParams struct {
	N, Dim, Half uint32
	NegLogP      float32
}

// TimestepEmbedding records the DiT's sinusoidal time embedding of t [B]
// into out [B, dim]: [cos(t·f_k) | sin(t·f_k)] (cos first),
// f_k = exp(−ln(maxPeriod)·k/half), half = dim/2 (an odd dim gets a zero
// last column). SVG passes the raw flow time t ∈ [0,1], dim 256,
// maxPeriod 10000.
func (e *Engine) TimestepEmbedding(out, t *Tensor, dim int, maxPeriod float64) {
	ewF32("TimestepEmbedding", out, t)
	if dim < 2 || maxPeriod <= 0 || out.Len() != t.Len()*dim || ewSame(out, t) {
		panic(fmt.Sprintf("shaders: TimestepEmbedding: out %v, t %v, dim=%d, maxPeriod=%g", out, t, dim, maxPeriod))
	}
	p := TimeEmbedParams{N: uint32(out.Len()), Dim: uint32(dim), Half: uint32(dim / 2),
		NegLogP: float32(-math.Log(maxPeriod))}
	e.dispatch(kernel{file: "timeembed", entry: "main", outs: 1, ins: 1}, e.ewGrid(out.Len()), p, out, t)
}
