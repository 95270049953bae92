package shaders

import (
	"fmt"
	"strconv"
)

// WKind is how a weight matrix is stored. The naming convention of the
// weight files (model/weights) maps onto these one to one.
type WKind uint8

const (
	WF32  WKind = iota // f32 [N,K]
	WF16               // f16 pairs [N,K]
	WInt8              // int8 [N,K] + f32 scales [N] or [N,K/G]
	WInt4              // nibbles [N,K/2] (q+8, low nibble first) + f32 scales [N,K/G]
)

func (k WKind) String() string { return [...]string{"f32", "f16", "int8", "int4"}[k] }

// Weight is a Linear weight in PyTorch's [out,in] = [N,K] layout.
type Weight struct {
	W      *Tensor
	Scales *Tensor // int8/int4 only
	Kind   WKind
	Group  int // scale group along K; 0 = one scale per output row (int8 only)
	N, K   int
}

// Act is a fused activation.
type Act uint32

const (
	ActNone Act = iota
	ActGELUTanh
	ActGELUErf
	ActSiLU
)

func (a Act) String() string { return [...]string{"none", "gelu_tanh", "gelu_erf", "silu"}[a] }

// Epilogue is what MatMul fuses after the product, in this order:
// + Bias[n], Act, × Gate[b, n] with b = m/(M/B), + Y (Accumulate).
// Gate is read as a view: element [b,n] is Gate[GateOff + b·GateStride + n]
// (GateStride 0 means N), so a chunk of the DiT's [B,6H] adaLN output or a
// [1,N] LayerScale γ serve without copies. GateRows is B (0: Gate.Len()/N).
type Epilogue struct {
	Bias       *Tensor
	Act        Act
	Gate       *Tensor
	GateOff    int
	GateStride int
	GateRows   int
	Accumulate bool
}

// MatMulParams is the WGSL Params twin.
type MatMulParams struct {
	M, N, K      uint32
	Flags        uint32
	RowsPerBatch uint32
	GateOff      uint32
	GateStride   uint32
}

// MatMul records Y = epilogue(X·Wᵀ): X is [..., K] (M rows), Y is [..., N].
// The variant that runs is PlanMatMul's (matmul_reg.go); this file's kernel
// is the reference variant "matmul".
func (e *Engine) MatMul(y, x *Tensor, w Weight, ep Epilogue) {
	K, N := w.K, w.N
	M := x.Len() / K
	if x.Len() != M*K || y.Len() != M*N {
		panic(fmt.Sprintf("shaders: MatMul: x %v, y %v, weight [%d,%d]", x, y, N, K))
	}
	if err := w.check(); err != nil {
		panic("shaders: MatMul: " + err.Error())
	}
	p := MatMulParams{M: uint32(M), N: uint32(N), K: uint32(K), RowsPerBatch: uint32(M)}
	if ep.Bias != nil {
		p.Flags |= 1
	}
	p.Flags |= uint32(ep.Act) << 1
	if ep.Gate != nil {
		stride, B := ep.GateStride, ep.GateRows
		if stride == 0 {
			stride = N
		}
		if B == 0 {
			B = ep.Gate.Len() / N
		}
		if B == 0 || M%B != 0 || ep.GateOff+(B-1)*stride+N > ep.Gate.Len() {
			panic(fmt.Sprintf("shaders: MatMul: gate %v (off %d, stride %d, rows %d) does not fit %d rows × %d", ep.Gate, ep.GateOff, stride, B, M, N))
		}
		p.Flags |= 8
		p.RowsPerBatch = uint32(M / B)
		p.GateOff, p.GateStride = uint32(ep.GateOff), uint32(stride)
	}
	if ep.Accumulate {
		p.Flags |= 16
	}
	plan := e.PlanMatMul(M, N, K)
	if e.MatMulVariant() == "tune" {
		plan = e.tunedPlan(y, x, w, ep, p)
	}
	e.matmulPlan(plan, y, x, w, ep, p)
}

// matmulPlan records one MatMul as plan says.
func (e *Engine) matmulPlan(plan MatMulPlan, y, x *Tensor, w Weight, ep Epilogue, p MatMulParams) {
	if plan.Variant != "matmul" {
		e.matmulReg(plan, y, x, w, ep, p)
		return
	}
	M, N := int(p.M), int(p.N)
	k := kernel{file: "matmul", entry: "main", outs: 1, ins: 5, subst: map[string]string{
		"WKIND": strconv.Itoa(int(w.Kind)), "GROUP": strconv.Itoa(w.Group), "GDIV": strconv.Itoa(max(w.Group, 1))}}
	k.flop = 2 * float64(M) * float64(N) * float64(p.K)
	e.dispatch(k, [3]uint32{uint32(ceilDiv(N, 64)), uint32(ceilDiv(M, 64)), 1}, p,
		y, x, w.W, w.Scales, ep.Bias, ep.Gate)
}

func (w Weight) check() error {
	want := w.N * w.K
	switch w.Kind {
	case WF32:
		if w.W.DType != F32 {
			return fmt.Errorf("f32 weight stored as %v", w.W.DType)
		}
	case WF16:
		if w.W.DType != F16 {
			return fmt.Errorf("f16 weight stored as %v", w.W.DType)
		}
	case WInt8:
		if w.W.DType != I8 || w.Scales == nil {
			return fmt.Errorf("int8 weight needs I8 data and scales")
		}
		groups := 1
		if w.Group > 0 {
			if w.K%w.Group != 0 {
				return fmt.Errorf("group %d does not divide K=%d", w.Group, w.K)
			}
			groups = w.K / w.Group
		}
		if w.Scales.Len() != w.N*groups {
			return fmt.Errorf("int8 scales %v, want %d", w.Scales, w.N*groups)
		}
	case WInt4:
		if w.W.DType != U8 || w.Scales == nil || w.Group <= 0 || w.K%w.Group != 0 || w.K%2 != 0 {
			return fmt.Errorf("int4 weight needs U8 data, scales and a group dividing an even K")
		}
		want = w.N * w.K / 2
		if w.Scales.Len() != w.N*w.K/w.Group {
			return fmt.Errorf("int4 scales %v, want %d", w.Scales, w.N*w.K/w.Group)
		}
	}
	if w.W.Len() != want {
		return fmt.Errorf("weight %v holds %d elements, want %d for [%d,%d] %v", w.W, w.W.Len(), want, w.N, w.K, w.Kind)
	}
	return nil
}
