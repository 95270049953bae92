package shaders

import "fmt"

// DownsampleParams is the WGSL Params twin.
type DownsampleParams struct {
	N, Cin, H, W uint32
	Cout, Ho, Wo uint32
	Flags        uint32
}

// DownsampleOut is the output side of the LDM Downsample block over n
// pixels: a 3×3 stride-2 convolution after one zero row/column of padding
// at the end, ConvOut(n+1, 3, 2, 0).
func DownsampleOut(n int) int { return ConvOut(n+1, 3, 2, 0) }

// Downsample records the LDM Downsample block (with_conv):
// y = conv2d(F.pad(x, (0,1,0,1)), w, bias, stride=2) on NCHW tensors,
// x [B,Cin,H,W], w [Cout,Cin,3,3], bias [Cout] or nil,
// y [B,Cout,DownsampleOut(H),DownsampleOut(W)].
func (e *Engine) Downsample(y, x, w, bias *Tensor, B, Cin, H, W, Cout int) {
	ewF32("Downsample", y, x, w, bias)
	if B < 1 || Cin < 1 || Cout < 1 || H < 2 || W < 2 {
		panic(fmt.Sprintf("shaders: Downsample: bad sizes B=%d Cin=%d H=%d W=%d Cout=%d", B, Cin, H, W, Cout))
	}
	Ho, Wo := DownsampleOut(H), DownsampleOut(W)
	if x.Len() != B*Cin*H*W || w.Len() != Cout*Cin*9 || y.Len() != B*Cout*Ho*Wo || (bias != nil && bias.Len() != Cout) {
		panic(fmt.Sprintf("shaders: Downsample: y %v, x %v, w %v, bias %v for B=%d Cin=%d H=%d W=%d Cout=%d → %d×%d",
			y, x, w, bias, B, Cin, H, W, Cout, Ho, Wo))
	}
	if ewSame(y, x) || ewSame(y, w) || ewSame(y, bias) {
		panic(fmt.Sprintf("shaders: Downsample: y %v cannot also be an input", y))
	}
	p := DownsampleParams{N: uint32(y.Len()), Cin: uint32(Cin), H: uint32(H), W: uint32(W),
		Cout: uint32(Cout), Ho: uint32(Ho), Wo: uint32(Wo)}
	if bias != nil {
		p.Flags |= 1
	}
	k := kernel{file: "downsample", entry: "main", outs: 1, ins: 3}
	k.flop = 2 * float64(y.Len()) * float64(Cin*9)
	e.dispatch(k, e.ewGrid(y.Len()), p, y, x, w, bias)
}
