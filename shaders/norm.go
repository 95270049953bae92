package shaders

import (
	"fmt"
	"strconv"
)

// NormParams is the WGSL Params twin of norm.wgsl.
type NormParams struct {
	Rows         uint32 // rows of C values
	C            uint32 // row length
	Heads        uint32 // rows per token: NH for qk-norm, 1 otherwise
	RowStride    uint32 // elements between tokens
	Base         uint32 // offset of row 0
	Flags        uint32 // bit0 gamma, bit1 beta, bit2 modulate, bit3 in place
	RowsPerBatch uint32 // rows sharing one adaLN row
	ModStride    uint32 // Chunks·C
	ShiftOff     uint32 // Shift·C
	ScaleOff     uint32 // Scale·C
	Eps          float32
}

const (
	normGamma   = 1
	normBeta    = 2
	normMod     = 4
	normInPlace = 8
)

// Mod names the shift and scale of an adaLN modulation inside the one
// adaLN output Ada [B, Chunks·C], read in place: shift[b,c] is
// Ada[b, Shift·C + c]. The DiT block has Chunks 6 in the order shift_msa,
// scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp (Shift, Scale = 0, 1
// before attention, 3, 4 before the MLP); the final layer has Chunks 2,
// Shift 0, Scale 1.
type Mod struct {
	Ada          *Tensor
	Chunks       int
	Shift, Scale int
}

// set fills p's modulation fields for rows rows of C values, one Ada row per
// rows/B of them.
func (m Mod) set(op string, p *NormParams, rows, C int) {
	if m.Ada == nil || m.Chunks < 1 || m.Shift < 0 || m.Shift >= m.Chunks || m.Scale < 0 || m.Scale >= m.Chunks {
		panic(fmt.Sprintf("shaders: %s: bad modulation %+v", op, m))
	}
	stride := m.Chunks * C
	B := m.Ada.Len() / stride
	if B == 0 || m.Ada.Len() != B*stride || rows%B != 0 {
		panic(fmt.Sprintf("shaders: %s: adaLN %v is not [B, %d·%d] with B dividing %d rows", op, m.Ada, m.Chunks, C, rows))
	}
	p.RowsPerBatch = uint32(rows / B)
	p.ModStride = uint32(stride)
	p.ShiftOff = uint32(m.Shift * C)
	p.ScaleOff = uint32(m.Scale * C)
}

// normWG is the workgroup size for rows of C: about four values per thread,
// 32 to 256 threads.
func normWG(C int) int {
	wg := 32
	for wg < 256 && wg*4 < C {
		wg *= 2
	}
	return wg
}

// lnParams checks y and x as rows of C and fills the common fields.
func lnParams(op string, y, x *Tensor, C int, eps float32) NormParams {
	if C <= 0 || x.Len()%C != 0 || x.Len() == 0 || y.Len() != x.Len() || x.DType != F32 || y.DType != F32 {
		panic(fmt.Sprintf("shaders: %s: y %v, x %v, C=%d", op, y, x, C))
	}
	rows := x.Len() / C
	return NormParams{Rows: uint32(rows), C: uint32(C), Heads: 1, RowStride: uint32(C),
		RowsPerBatch: uint32(rows), Eps: eps}
}

// normAffine checks gamma and beta ([n] or nil) and returns their flags (bits 0
// and 1 in norm.wgsl and groupnorm.wgsl).
func normAffine(op string, gamma, beta *Tensor, n int) uint32 {
	var f uint32
	if gamma != nil {
		if gamma.Len() != n {
			panic(fmt.Sprintf("shaders: %s: gamma %v, want %d values", op, gamma, n))
		}
		f |= normGamma
	}
	if beta != nil {
		if beta.Len() != n {
			panic(fmt.Sprintf("shaders: %s: beta %v, want %d values", op, beta, n))
		}
		f |= normBeta
	}
	return f
}

// normX returns the tensor to bind as x and the in-place flag (bit 3 in
// norm.wgsl and groupnorm.wgsl): when y and x share a buffer, x is bound as
// a dummy and the kernel reads through y.
func normX(y, x *Tensor) (*Tensor, uint32) {
	if y.buf != nil && y.buf == x.buf {
		return nil, normInPlace
	}
	return x, 0
}

func (e *Engine) normRows(entry string, p NormParams, y, x, gamma, beta, ada *Tensor) {
	wg := normWG(int(p.C))
	k := kernel{file: "norm", entry: entry, outs: 1, ins: 4, subst: map[string]string{"WG": strconv.Itoa(wg)}}
	e.dispatch(k, e.grid1(int(p.Rows)), p, y, x, gamma, beta, ada)
}

// LayerNorm records y = LayerNorm(x) over the last dimension C of x [..., C]
// (biased variance, as PyTorch), times gamma[c] plus beta[c] when given
// (either may be nil: the DiT's norms have no affine). y may be x.
func (e *Engine) LayerNorm(y, x, gamma, beta *Tensor, C int, eps float32) {
	p := lnParams("LayerNorm", y, x, C, eps)
	p.Flags |= normAffine("LayerNorm", gamma, beta, C)
	xb, f := normX(y, x)
	p.Flags |= f
	e.normRows("layernorm", p, y, xb, gamma, beta, nil)
}

// LayerNormModulate records the DiT's adaLN input
// y = LayerNorm(x)·(1 + scale[b]) + shift[b] (LayerNorm without affine),
// with x [B·T, C] and shift, scale chunks of m.Ada [B, Chunks·C]. y may be x.
func (e *Engine) LayerNormModulate(y, x *Tensor, m Mod, C int, eps float32) {
	p := lnParams("LayerNormModulate", y, x, C, eps)
	m.set("LayerNormModulate", &p, int(p.Rows), C)
	xb, f := normX(y, x)
	p.Flags |= normMod | f
	e.normRows("layernorm", p, y, xb, nil, nil, m.Ada)
}

// Modulate records y = x·(1 + scale[b]) + shift[b], the DiT's modulate
// without the LayerNorm, with x [B·T, C] and shift, scale chunks of
// m.Ada [B, Chunks·C]. y may be x.
func (e *Engine) Modulate(y, x *Tensor, m Mod, C int) {
	p := lnParams("Modulate", y, x, C, 0)
	m.set("Modulate", &p, int(p.Rows), C)
	xb, f := normX(y, x)
	p.Flags |= normMod | f
	const wg = 256
	k := kernel{file: "norm", entry: "modulate", outs: 1, ins: 4, subst: map[string]string{"WG": strconv.Itoa(wg)}}
	e.dispatch(k, e.grid1(ceilDiv(x.Len(), wg)), p, y, xb, nil, nil, m.Ada)
}

// HeadNorm records the DiT's qk-norm in place: a LayerNorm over each head's
// HD values of the q part (which 0) or the k part (which 1) of a packed qkv
// [B, T, 3·NH·HD] (PyTorch's qkv.reshape(B, T, 3, NH, HD)), with gamma and
// beta [HD] (either may be nil) shared by all heads.
func (e *Engine) HeadNorm(qkv, gamma, beta *Tensor, NH, HD, which int, eps float32) {
	tok := 3 * NH * HD
	if NH <= 0 || HD <= 0 || qkv.Len() == 0 || qkv.Len()%tok != 0 || which < 0 || which > 1 || qkv.DType != F32 {
		panic(fmt.Sprintf("shaders: HeadNorm: qkv %v, NH=%d, HD=%d, which=%d", qkv, NH, HD, which))
	}
	rows := qkv.Len() / tok * NH // (b, t, head) triples
	p := NormParams{Rows: uint32(rows), C: uint32(HD), Heads: uint32(NH), RowStride: uint32(tok),
		Base: uint32(which * NH * HD), Flags: normInPlace, RowsPerBatch: uint32(rows), Eps: eps}
	p.Flags |= normAffine("HeadNorm", gamma, beta, HD)
	e.normRows("layernorm", p, qkv, nil, gamma, beta, nil)
}
