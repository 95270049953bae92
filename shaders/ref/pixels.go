package ref

import "math"

// ImageNet normalisation, the input convention of both SVG encoders.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ToRGBA8 turns decoder output x [B,3,H,W] (RGB in about [−1,1]) into
// opaque RGBA8 pixels out [B,H,W,4]: each channel is
// clamp(roundEven((x+1)·127.5), 0, 255), computed in f32 as one add then
// one multiply (both correctly rounded, so the GPU computes the same f32),
// ties to even (x = 0 gives 127.5 → 128); alpha is 255, so premultiplied
// and straight alpha are the same. NaN maps to an unspecified value.
func ToRGBA8(out []byte, x []float32, B, H, W int) {
	HW := H * W
	for b := range B {
		for i := range HW {
			for c := range 3 {
				out[(b*HW+i)*4+c] = ToByte(x[(b*3+c)*HW+i])
			}
			out[(b*HW+i)*4+3] = 255
		}
	}
}

// ToByte is ToRGBA8's rule for one channel.
func ToByte(x float32) byte {
	v := float32(x+1) * 127.5
	r := math.RoundToEven(float64(v))
	return byte(max(0, min(255, r)))
}

// FromRGBA8 turns RGBA8 pixels px [B,H,W,4] into a normalised image
// y [B,3,H,W]: y = (v/255 − mean[c])/std[c] (alpha is ignored), the
// encoders' ToTensor + Normalize with ImageNetMean/ImageNetStd.
func FromRGBA8(y []float32, px []byte, B, H, W int, mean, std [3]float32) {
	HW := H * W
	for b := range B {
		for i := range HW {
			for c := range 3 {
				v := float32(px[(b*HW+i)*4+c]) / 255
				y[(b*3+c)*HW+i] = (v - mean[c]) / std[c]
			}
		}
	}
}
