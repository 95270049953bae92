package shaders

import (
	"fmt"
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
	Flags        uint32
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
		"TCO": strconv.Itoa(tco), "TP": strconv.Itoa(tp), "TK": strconv.Itoa(tk)}}
	kern.flop = 2 * float64(B*Cout*Cin*k*k) * float64(Ho*Wo)
	tiles := ceilDiv(Cout, tco) * ceilDiv(B*Ho*Wo, tp)
	e.dispatch(kern, e.grid1(tiles), p, y, x, w, bias, res)
}
