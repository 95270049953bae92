package shaders

import "fmt"

// ImageNet normalisation, the input convention of both SVG encoders.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// PixelParams is the WGSL Params twin.
type PixelParams struct {
	N, HW      uint32
	M0, M1, M2 float32
	S0, S1, S2 float32
}

// ToRGBA8 records out = RGBA8 pixels of the decoder output x [B,3,H,W] (RGB
// in about [−1,1]); out is U8 [B,H,W,4] (e.Empty(U8, B, H, W, 4)), ready
// for WritePixels. Each channel is clamp(round((x+1)·127.5), 0, 255), ties
// to even; alpha is 255.
func (e *Engine) ToRGBA8(out, x *Tensor, B, H, W int) {
	if out.DType != U8 || x.DType != F32 || B < 1 || H < 1 || W < 1 ||
		out.Len() != B*H*W*4 || x.Len() != B*3*H*W {
		panic(fmt.Sprintf("shaders: ToRGBA8: out %v (want u8 [%d,%d,%d,4]), x %v", out, B, H, W, x))
	}
	p := PixelParams{N: uint32(B * H * W), HW: uint32(H * W)}
	e.dispatch(kernel{file: "pixels", entry: "to_rgba8", outs: 1, ins: 1}, e.ewGrid(B*H*W), p, out, x)
}

// FromRGBA8 records y [B,3,H,W] = (v/255 − mean[c])/std[c] from RGBA8
// pixels px, U8 [B,H,W,4] (alpha ignored): the encoders' input with
// ImageNetMean and ImageNetStd.
func (e *Engine) FromRGBA8(y, px *Tensor, B, H, W int, mean, std [3]float32) {
	if px.DType != U8 || y.DType != F32 || B < 1 || H < 1 || W < 1 ||
		px.Len() != B*H*W*4 || y.Len() != B*3*H*W {
		panic(fmt.Sprintf("shaders: FromRGBA8: y %v, px %v (want u8 [%d,%d,%d,4])", y, px, B, H, W))
	}
	p := PixelParams{N: uint32(B * H * W), HW: uint32(H * W),
		M0: mean[0], M1: mean[1], M2: mean[2], S0: std[0], S1: std[1], S2: std[2]}
	e.dispatch(kernel{file: "pixels", entry: "from_rgba8", outs: 1, ins: 1}, e.ewGrid(B*H*W), p, y, px)
}
