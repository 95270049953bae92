package shaders

import (
	"fmt"
	"math"
	"strconv"
)

// ConvOpts are Conv2D's optional fusions.
type ConvOpts struct {
	// Res is added to the output, y = conv(x) + Res, Res laid out as y (the
	// ResnetBlock's x + h). Res == y accumulates into y: it is bound once and
	// each output is read and written by the same thread.
	Res *Tensor
	// Up2 convolves the nearest-neighbour 2× upsampling of x without
	// materialising it (the LDM Upsample block: interpolate, then conv3×3):
	// x stays [B,Cin,H,W] and the convolution sees 2H×2W.
	Up2 bool
}

// ConvParams is the WGSL Params twin.
type ConvParams struct {
	B, Cin, H, W uint32
	Cout, Ho, Wo uint32
	Flags        uint32 // bit0 bias, bit1 residual, bit2 accumulate, bit3 token-major, bit4 raw split sums
	KSplit       uint32 // k per split
	Splits       uint32
}

// PlanConv names the convolution kernel that runs on e: Engine.ConvKernel if
// set ("conv" or "conv_prefetch"), else conv_prefetch on a GPU (the next K
// step's loads in flight during this step's products) and conv on CPU
// drivers, where there is no latency to hide.
func (e *Engine) PlanConv() string {
	switch e.ConvKernel {
	case "conv", "conv_prefetch":
		return e.ConvKernel
	}
	if computeUnits(e.Adapter) > 2 {
		return "conv_prefetch"
	}
	return "conv"
}

// PlanConvSplit is how many parts a convolution's K = Cin·k² is split into
// on e: with few output tiles (the decoder's 512→512 at 16² has 32 of 64×64
// for an H100's 132 SMs) most of the GPU would idle, so K is split into
// parts of at least 256 (up to 16) where matmul's cost model (regCost: waves
// of two workgroups per compute unit, plus the partial sums' traffic and the
// reduce dispatch) says it pays. CPU drivers never split.
// M is the output pixels B·Ho·Wo, N the output channels, tileM×tileN the
// kernel's tile (pixels × channels).
func (e *Engine) PlanConvSplit(M, N, K, tileM, tileN int) int {
	return planConvSplit(e.Adapter, M, N, K, tileM, tileN)
}

func planConvSplit(adapter string, M, N, K, tileM, tileN int) int {
	cu := computeUnits(adapter)
	if cu <= 2 {
		return 1
	}
	best, bc := 1, math.Inf(1)
	for s := 1; s <= 16 && (s == 1 || K/s >= 256); s++ {
		if c := regCost(cu, M, N, K, MatMulPlan{BM: tileM, BN: tileN, Split: s}); c < bc {
			best, bc = s, c
		}
	}
	return best
}

// ConvOut is the output side of a k×k convolution with stride and padding
// over a side of n pixels (PyTorch's floor rule).
func ConvOut(n, k, stride, pad int) int { return (n+2*pad-k)/stride + 1 }

// Conv2D records y = conv2d(x, w, bias) (+ o.Res) on NCHW tensors:
// x [B,Cin,H,W], w [Cout,Cin,k,k] (PyTorch layout), bias [Cout] or nil,
// y [B,Cout,Ho,Wo] with Ho = ConvOut(H, k, stride, pad) (H doubled first
// with o.Up2). Square kernels only: every SVG convolution is one.
func (e *Engine) Conv2D(y, x, w, bias *Tensor, B, Cin, H, W, Cout, k, stride, pad int, o ConvOpts) {
	e.conv("Conv2D", y, x, w, bias, B, Cin, H, W, Cout, k, stride, pad, o, false)
}

// PatchEmbed records a ViT patch embedding: the convolution with kernel =
// stride = patch and no padding, written token-major, y [B, T, Cout] with
// T = (H/patch)·(W/patch) patches in row-major order (PyTorch's conv
// followed by flatten(2).transpose(1, 2)). img is [B,Cin,H,W], w
// [Cout,Cin,patch,patch], bias [Cout] or nil.
func (e *Engine) PatchEmbed(y, img, w, bias *Tensor, B, Cin, H, W, Cout, patch int) {
	e.conv("PatchEmbed", y, img, w, bias, B, Cin, H, W, Cout, patch, patch, 0, ConvOpts{}, true)
}

func (e *Engine) conv(op string, y, x, w, bias *Tensor, B, Cin, H, W, Cout, k, stride, pad int, o ConvOpts, tokens bool) {
	up := 1
	if o.Up2 {
		up = 2
	}
	if B < 1 || Cin < 1 || H < 1 || W < 1 || Cout < 1 || k < 1 || stride < 1 || pad < 0 {
		panic(fmt.Sprintf("shaders: %s: bad sizes B=%d Cin=%d H=%d W=%d Cout=%d k=%d stride=%d pad=%d",
			op, B, Cin, H, W, Cout, k, stride, pad))
	}
	Ho, Wo := ConvOut(H*up, k, stride, pad), ConvOut(W*up, k, stride, pad)
	if H*up+2*pad < k || W*up+2*pad < k {
		panic(fmt.Sprintf("shaders: %s: a %d×%d kernel does not fit a %d×%d image", op, k, k, H*up, W*up))
	}
	ewF32(op, y, x, w, bias, o.Res)
	if x.Len() != B*Cin*H*W || w.Len() != Cout*Cin*k*k || y.Len() != B*Cout*Ho*Wo ||
		(bias != nil && bias.Len() != Cout) || (o.Res != nil && o.Res.Len() != y.Len()) {
		panic(fmt.Sprintf("shaders: %s: y %v, x %v, w %v, bias %v, res %v for B=%d Cin=%d H=%d W=%d Cout=%d k=%d → %d×%d",
			op, y, x, w, bias, o.Res, B, Cin, H, W, Cout, k, Ho, Wo))
	}
	if ewSame(y, x) || ewSame(y, w) || ewSame(y, bias) {
		panic(fmt.Sprintf("shaders: %s: y %v cannot also be an input", op, y))
	}
	if ewSame(o.Res, x) || ewSame(o.Res, w) || ewSame(o.Res, bias) {
		panic(fmt.Sprintf("shaders: %s: Res %v must be y or a tensor of its own", op, o.Res))
	}
	p := ConvParams{B: uint32(B), Cin: uint32(Cin), H: uint32(H), W: uint32(W),
		Cout: uint32(Cout), Ho: uint32(Ho), Wo: uint32(Wo)}
	res := o.Res
	if bias != nil {
		p.Flags |= 1
	}
	if ewSame(res, y) {
		p.Flags |= 4
		res = nil
	} else if res != nil {
		p.Flags |= 2
	}
	if tokens {
		p.Flags |= 8
	}
	// Tile (channels × pixels, k step): 64×64 by 16, or 16×256 by 8 when a
	// 64-channel tile would be mostly empty (conv_out's 3 channels).
	tco, tp, tk := 64, 64, 16
	if Cout <= 16 {
		tco, tp, tk = 16, 256, 8
	}
	kern := kernel{file: "conv", entry: "main", outs: 1, ins: 4, subst: map[string]string{
		"KS": strconv.Itoa(k), "S": strconv.Itoa(stride), "P": strconv.Itoa(pad), "UP": strconv.Itoa(up),
		"TCO": strconv.Itoa(tco), "TP": strconv.Itoa(tp), "TK": strconv.Itoa(tk),
		"PF": strconv.FormatBool(e.PlanConv() == "conv_prefetch")}}
	kern.flop = 2 * float64(B*Cout*Cin*k*k) * float64(Ho*Wo)
	tiles := ceilDiv(Cout, tco) * ceilDiv(B*Ho*Wo, tp)
	K, ny := Cin*k*k, B*Cout*Ho*Wo
	S := e.ConvSplit
	if S <= 0 {
		S = e.PlanConvSplit(B*Ho*Wo, Cout, K, tp, tco)
	}
	ks := ceilDiv(ceilDiv(K, max(1, S)), tk) * tk
	S = ceilDiv(K, ks) // every split non-empty
	if S > 1 && uint64(S*ny*4) > e.Limits.MaxTensor() {
		S, ks = 1, K
	}
	p.KSplit, p.Splits = uint32(ks), uint32(S)
	if S == 1 {
		e.dispatch(kern, e.grid1(tiles), p, y, x, w, bias, res)
		return
	}
	part := e.Empty(F32, S, ny).Named("conv partial sums")
	pp := p
	pp.Flags = 16 | p.Flags&8 // raw sums in y's layout
	e.dispatch(kern, e.grid1(tiles*S), pp, part, x, w, nil, nil)
	red := kernel{file: "conv", entry: "splitk_reduce", outs: 1, ins: 4, subst: kern.subst}
	e.dispatch(red, e.grid1(ceilDiv(ny, 256)), p, y, part, nil, bias, res)
	part.Release() // back to the pool: later commands keep their order
}
