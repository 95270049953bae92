package shaders

import "fmt"

// The elementwise and layout ops (elementwise.wgsl): one dispatch each. An
// output may be the same tensor as an input wherever the doc says so; it is
// then bound once, read and written in place.

// EWParams is the WGSL Params twin shared by every elementwise entry point.
type EWParams struct {
	N          uint32
	Flags      uint32
	A, B, C    float32
	OffX, OffU uint32
	D0, D1, D2 uint32
}

func (e *Engine) ew(entry string, grid [3]uint32, p EWParams, y, x, u, v *Tensor) {
	e.dispatch(kernel{file: "elementwise", entry: entry, outs: 1, ins: 3}, grid, p, y, x, u, v)
}

// ewGrid is the grid for one thread per element of an n-element output.
func (e *Engine) ewGrid(n int) [3]uint32 { return e.grid1(ceilDiv(n, 256)) }

// ewSame reports whether a and b are the same tensor (the same buffer).
func ewSame(a, b *Tensor) bool {
	if a == nil || b == nil {
		return false
	}
	return a == b || (a.buf != nil && a.buf == b.buf)
}

// ewF32 panics unless every non-nil tensor is f32.
func ewF32(op string, ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && t.DType != F32 {
			panic(fmt.Sprintf("shaders: %s: %v is not f32", op, t))
		}
	}
}

func ewLen(op string, n int, ts ...*Tensor) {
	for _, t := range ts {
		if t.Len() != n {
			panic(fmt.Sprintf("shaders: %s: %v has %d elements, want %d", op, t, t.Len(), n))
		}
	}
}

// ewTerm is one c·t term of axpby.
type ewTerm struct {
	c float32
	t *Tensor
}

// axpby records y = Σ c·t. Terms on the same tensor are merged, and a term
// on y itself becomes the in-place y term, so no buffer is bound twice.
func (e *Engine) axpby(op string, y *Tensor, terms ...ewTerm) {
	ewF32(op, y)
	var ins []ewTerm
	yc, hasY := float32(0), false
outer:
	for _, t := range terms {
		ewF32(op, t.t)
		ewLen(op, y.Len(), t.t)
		if ewSame(t.t, y) {
			yc += t.c
			hasY = true
			continue
		}
		for i := range ins {
			if ewSame(ins[i].t, t.t) {
				ins[i].c += t.c
				continue outer
			}
		}
		ins = append(ins, t)
	}
	p := EWParams{N: uint32(y.Len())}
	var x, u *Tensor
	if len(ins) > 0 {
		p.Flags |= 1
		p.A, x = ins[0].c, ins[0].t
	}
	if len(ins) > 1 {
		p.Flags |= 2
		p.B, u = ins[1].c, ins[1].t
	}
	if hasY && yc != 0 { // a zero y term does not read y (BLAS's β = 0)
		p.Flags |= 4
		p.C = yc
	}
	e.ew("axpby", e.ewGrid(y.Len()), p, y, x, u, nil)
}

// Add records y = a + b (y may be a or b).
func (e *Engine) Add(y, a, b *Tensor) { e.axpby("Add", y, ewTerm{1, a}, ewTerm{1, b}) }

// Scale records y = s·x (y may be x).
func (e *Engine) Scale(y, x *Tensor, s float32) { e.axpby("Scale", y, ewTerm{s, x}) }

// Axpy records y = a·x + b·y; b = 0 does not read y.
func (e *Engine) Axpy(y, x *Tensor, a, b float32) {
	e.axpby("Axpy", y, ewTerm{a, x}, ewTerm{b, y})
}

// EulerStep records the flow sampler's update z += dt·v.
func (e *Engine) EulerStep(z, v *Tensor, dt float32) {
	e.axpby("EulerStep", z, ewTerm{dt, v}, ewTerm{1, z})
}

// CFG records classifier-free guidance v = vu + w·(vc − vu) for separate
// conditional and unconditional predictions (v distinct from both).
func (e *Engine) CFG(v, vc, vu *Tensor, w float32) {
	ewF32("CFG", v, vc, vu)
	ewLen("CFG", v.Len(), vc, vu)
	if ewSame(v, vc) || ewSame(v, vu) {
		panic("shaders: CFG: v must be distinct from vc and vu")
	}
	p := EWParams{N: uint32(v.Len()), A: w}
	if ewSame(vc, vu) {
		p.Flags |= 1 // read both from x, never bind one buffer twice
		vu = nil
	}
	e.ew("cfg", e.ewGrid(v.Len()), p, v, vc, vu, nil)
}

// CFGBatched records CFG on one batched prediction vcu [2B, ...]: the
// conditional half first, the unconditional half second (the order of the
// DiT's forward_with_cfg, labels cat([y, null])); v is one half [B, ...].
func (e *Engine) CFGBatched(v, vcu *Tensor, w float32) {
	ewF32("CFGBatched", v, vcu)
	n := v.Len()
	if vcu.Len() != 2*n || ewSame(v, vcu) {
		panic(fmt.Sprintf("shaders: CFGBatched: v %v must be a distinct half of vcu %v", v, vcu))
	}
	p := EWParams{N: uint32(n), Flags: 1, A: w, OffX: 0, OffU: uint32(n)}
	e.ew("cfg", e.ewGrid(n), p, v, vcu, nil, nil)
}

// Swish records y = x·sigmoid(x) (SiLU; y may be x).
func (e *Engine) Swish(y, x *Tensor) {
	ewF32("Swish", y, x)
	ewLen("Swish", y.Len(), x)
	p := EWParams{N: uint32(y.Len())}
	if ewSame(y, x) {
		p.Flags |= 1
		x = nil
	}
	e.ew("swiglu", e.ewGrid(y.Len()), p, y, x, nil, nil)
}

// SwiGLU records y = silu(a) ⊙ b, the gate of DINOv3's SwiGLU FFN
// w3(silu(w1 x) ⊙ w2 x) with a = w1 x, b = w2 x. y may be a (not b).
func (e *Engine) SwiGLU(y, a, b *Tensor) {
	ewF32("SwiGLU", y, a, b)
	ewLen("SwiGLU", y.Len(), a, b)
	if ewSame(y, b) || ewSame(a, b) {
		panic("shaders: SwiGLU: b must be distinct from y and a")
	}
	p := EWParams{N: uint32(y.Len()), Flags: 2}
	if ewSame(y, a) {
		p.Flags |= 1
		a = nil
	}
	e.ew("swiglu", e.ewGrid(y.Len()), p, y, a, b, nil)
}

// SwiGLUPacked records SwiGLU on one packed product ab [M, 2H] whose rows
// are [w1 x | w2 x] (w1 and w2 stacked into one [2H, K] weight: one matmul
// instead of two); y is [M, H], distinct from ab.
func (e *Engine) SwiGLUPacked(y, ab *Tensor, H int) {
	ewF32("SwiGLUPacked", y, ab)
	if H < 1 || y.Len()%H != 0 || ab.Len() != 2*y.Len() || ewSame(y, ab) {
		panic(fmt.Sprintf("shaders: SwiGLUPacked: y %v, ab %v, H=%d", y, ab, H))
	}
	p := EWParams{N: uint32(y.Len()), Flags: 4, D0: uint32(H)}
	e.ew("swiglu", e.ewGrid(y.Len()), p, y, ab, nil, nil)
}

// ConcatChannels records the token-major concatenation of a [rows, C1] and
// b [rows, C2] into y [rows, C1+C2] (rows = B·T; the SVG latent is
// DINO 384 | residual 8). y is distinct from a and b.
func (e *Engine) ConcatChannels(y, a, b *Tensor, C1, C2 int) {
	ewF32("ConcatChannels", y, a, b)
	if C1 < 1 || C2 < 1 || a.Len()%C1 != 0 {
		panic(fmt.Sprintf("shaders: ConcatChannels: a %v, C1=%d, C2=%d", a, C1, C2))
	}
	rows := a.Len() / C1
	if b.Len() != rows*C2 || y.Len() != rows*(C1+C2) {
		panic(fmt.Sprintf("shaders: ConcatChannels: y %v, a %v, b %v for C1=%d C2=%d", y, a, b, C1, C2))
	}
	if ewSame(y, a) || ewSame(y, b) || ewSame(a, b) {
		panic("shaders: ConcatChannels: y, a and b must be distinct")
	}
	p := EWParams{N: uint32(y.Len()), D0: uint32(C1), D1: uint32(C2)}
	e.ew("concat", e.ewGrid(y.Len()), p, y, a, b, nil)
}

// Transpose records y [B, C, R] = x [B, R, C] with the last two dimensions
// swapped. Token-major [B, T, C] → NCHW [B, C, H, W] is
// Transpose(y, x, B, T, C) with T = H·W (the DiT latent [B,256,392] into
// the decoder's [B,392,16,16]); NCHW → tokens is Transpose(y, x, B, C, T).
// y is distinct from x.
func (e *Engine) Transpose(y, x *Tensor, B, R, C int) {
	ewF32("Transpose", y, x)
	if B < 1 || R < 1 || C < 1 || x.Len() != B*R*C || y.Len() != B*R*C || ewSame(y, x) {
		panic(fmt.Sprintf("shaders: Transpose: y %v, x %v for B=%d R=%d C=%d", y, x, B, R, C))
	}
	p := EWParams{N: uint32(y.Len()), D0: uint32(R), D1: uint32(C), D2: uint32(B)}
	e.ew("transpose2d", [3]uint32{uint32(ceilDiv(C, 16)), uint32(ceilDiv(R, 16)), uint32(B)}, p, y, x, nil, nil)
}

// AddRowVector records y = x + v broadcast over rows: v is [G, C] and x is
// [G, rows, C] (G = v.Len()/C): v [C] is a bias for every token, v [B, C]
// one vector per batch item; a position embedding [T, C'] added to every
// batch item is C = T·C'. y may be x.
func (e *Engine) AddRowVector(y, x, v *Tensor, C int) {
	ewF32("AddRowVector", y, x, v)
	ewLen("AddRowVector", y.Len(), x)
	if C < 1 || v.Len()%C != 0 || v.Len() == 0 || x.Len()%v.Len() != 0 || ewSame(v, y) || ewSame(v, x) {
		panic(fmt.Sprintf("shaders: AddRowVector: x %v, v %v, C=%d", x, v, C))
	}
	per := x.Len() / (v.Len() / C)
	p := EWParams{N: uint32(y.Len()), D0: uint32(C), D1: uint32(per)}
	if ewSame(y, x) {
		p.Flags |= 4
		x = nil
	}
	e.ew("chan", e.ewGrid(y.Len()), p, y, x, v, nil)
}

// Normalize records y = (x − mean[c]) / std[c] over the last dimension of C
// channels (y may be x).
func (e *Engine) Normalize(y, x, mean, std *Tensor, C int) {
	e.chanNorm("Normalize", 1, y, x, mean, std, C)
}

// Denormalize records y = x·std[c] + mean[c], the inverse of Normalize (the
// SVG latent's per-channel statistics before the decoder; y may be x).
func (e *Engine) Denormalize(y, x, mean, std *Tensor, C int) {
	e.chanNorm("Denormalize", 2, y, x, mean, std, C)
}

func (e *Engine) chanNorm(op string, mode uint32, y, x, mean, std *Tensor, C int) {
	ewF32(op, y, x, mean, std)
	ewLen(op, y.Len(), x)
	if C < 1 || mean.Len() != C || std.Len() != C || x.Len()%C != 0 ||
		ewSame(y, mean) || ewSame(y, std) || ewSame(x, mean) || ewSame(x, std) || ewSame(mean, std) {
		panic(fmt.Sprintf("shaders: %s: x %v, mean %v, std %v, C=%d", op, x, mean, std, C))
	}
	p := EWParams{N: uint32(y.Len()), Flags: mode, D0: uint32(C), D1: uint32(y.Len())}
	if ewSame(y, x) {
		p.Flags |= 4
		x = nil
	}
	e.ew("chan", e.ewGrid(y.Len()), p, y, x, mean, std)
}
