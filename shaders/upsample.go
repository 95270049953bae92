package shaders

import "fmt"

// UpsampleParams is the WGSL Params twin.
type UpsampleParams struct {
	N, H, W uint32
}

// Upsample2x records nearest-neighbour 2× upsampling of NCHW x [B,C,H,W]
// into y [B,C,2H,2W] (interpolate(scale_factor=2, mode="nearest")). y is
// distinct from x. Conv2D's ConvOpts.Up2 fuses this into the next conv.
func (e *Engine) Upsample2x(y, x *Tensor, B, C, H, W int) {
	ewF32("Upsample2x", y, x)
	if B < 1 || C < 1 || H < 1 || W < 1 || x.Len() != B*C*H*W || y.Len() != 4*B*C*H*W || ewSame(y, x) {
		panic(fmt.Sprintf("shaders: Upsample2x: y %v, x %v for B=%d C=%d H=%d W=%d", y, x, B, C, H, W))
	}
	p := UpsampleParams{N: uint32(y.Len()), H: uint32(H), W: uint32(W)}
	e.dispatch(kernel{file: "upsample", entry: "main", outs: 1, ins: 1}, e.ewGrid(y.Len()), p, y, x)
}
