package ref

import "math"

// Activations, numbered as the engine's Act.
const (
	ActNone = iota
	ActGELUTanh
	ActGELUErf
	ActSiLU
)

// GELUTanh is PyTorch's gelu(approximate="tanh").
func GELUTanh(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
}

// GELUErf is PyTorch's exact gelu.
func GELUErf(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}

// SiLU is x·sigmoid(x) (swish).
func SiLU(x float32) float32 {
	v := float64(x)
	return float32(v / (1 + math.Exp(-v)))
}

// Activate applies activation act.
func Activate(act int, v float32) float32 {
	switch act {
	case ActGELUTanh:
		return GELUTanh(v)
	case ActGELUErf:
		return GELUErf(v)
	case ActSiLU:
		return SiLU(v)
	}
	return v
}

// MatMul is torch.nn.functional.linear plus the engine's fused epilogue:
// y[m,n] = (accumulate ? y[m,n] : 0) + gate[m/(M/B),n] · act(Σ_k x[m,k]·w[n,k] + bias[n]).
// w is [N,K]; bias and gate may be nil; gate is [B,N] (see MatMulGate for a
// strided view).
// https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
func MatMul(y, x, w, bias, gate []float32, M, K, N, act int, accumulate bool) {
	B := 1
	if gate != nil {
		B = len(gate) / N
	}
	MatMulGate(y, x, w, bias, gate, 0, N, B, M, K, N, act, accumulate)
}

// MatMulGate is MatMul with the gate read as gate[off + b·stride + n].
func MatMulGate(y, x, w, bias, gate []float32, off, stride, B, M, K, N, act int, accumulate bool) {
	rpb := M / B
	for m := range M {
		xr := x[m*K : (m+1)*K]
		for n := range N {
			wr := w[n*K : (n+1)*K]
			var s float64
			for k, xv := range xr {
				s += float64(xv) * float64(wr[k])
			}
			v := float32(s)
			if bias != nil {
				v += bias[n]
			}
			v = Activate(act, v)
			if gate != nil {
				v *= gate[off+(m/rpb)*stride+n]
			}
			if accumulate {
				v += y[m*N+n]
			}
			y[m*N+n] = v
		}
	}
}
