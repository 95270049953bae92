package ref

import "math"

// DINOv3's 2-D rotary position embedding (axial, no learned weights), as in
// dinov3/layers/rope_position_encoding.py (RopePositionEmbedding, eval mode:
// no shift, jitter or rescale of the coordinates; normalize_coords
// "separate") and rope_apply in dinov3/layers/attention.py.
// https://github.com/facebookresearch/dinov3

// RoPEPeriods is DINOv3's period per frequency for head dim HD (a multiple
// of 4): base^(2k/(HD/2)) = base^(4k/HD) for k = 0…HD/4−1. For HD 64 and
// base 100 that is 100^(k/16). The checkpoint stores the same numbers (in
// float32) as rope_embed.periods.
func RoPEPeriods(HD int, base float64) []float64 {
	p := make([]float64, HD/4)
	for k := range p {
		p[k] = math.Pow(base, float64(2*k)/float64(HD/2))
	}
	return p
}

// RoPEAngles is the [H·W, HD/2] angle table for an H×W patch grid (patches
// row-major): patch centres normalised to [-1,1] separately per axis,
// ((i+0.5)/H)·2−1, and angle 2π·coord/period; the first HD/4 angles of a
// patch use its row coordinate, the next HD/4 its column coordinate.
// DINOv3 then tiles the HD/2 angles twice to HD; RoPETable keeps them once.
func RoPEAngles(H, W int, periods []float64) []float64 {
	q := len(periods)
	a := make([]float64, H*W*2*q)
	for r := range H {
		cr := (float64(r)+0.5)/float64(H)*2 - 1
		for c := range W {
			cc := (float64(c)+0.5)/float64(W)*2 - 1
			row := a[(r*W+c)*2*q:]
			for k, p := range periods {
				row[k] = 2 * math.Pi * cr / p
				row[q+k] = 2 * math.Pi * cc / p
			}
		}
	}
	return a
}

// RoPETable is what RoPE2D reads: [H·W, HD/2, 2] pairs (cos θ, sin θ) of
// RoPEAngles, computed in float64 and rounded once to float32.
func RoPETable(angles []float64) []float32 {
	t := make([]float32, 2*len(angles))
	for i, a := range angles {
		t[2*i] = float32(math.Cos(a))
		t[2*i+1] = float32(math.Sin(a))
	}
	return t
}

// RoPE2D rotates, in place, the q and k parts of a packed qkv tensor
// [B,T,3·NH·HD] (PyTorch reshape(B,T,3,NH,HD)) for the patch tokens
// prefix…T−1; the prefix tokens (cls, registers) and v are left alone.
// table is RoPETable for the T−prefix patches. Per head,
// rope(x) = x·cos + rotate_half(x)·sin with rotate_half([a,b]) = [−b,a] over
// the two halves of HD and the HD/2 angles tiled twice, i.e. each pair
// (x[i], x[i+HD/2]) turns by angle i:
// (x·cos − y·sin, y·cos + x·sin).
func RoPE2D(qkv, table []float32, B, T, NH, HD, prefix int) {
	half := HD / 2
	row := 3 * NH * HD
	for b := range B {
		for t := prefix; t < T; t++ {
			cs := table[(t-prefix)*HD:]
			for part := range 2 { // q, k
				for h := range NH {
					x := qkv[(b*T+t)*row+part*NH*HD+h*HD:]
					for i := range half {
						c, s := float64(cs[2*i]), float64(cs[2*i+1])
						a, y := float64(x[i]), float64(x[i+half])
						x[i] = float32(a*c - y*s)
						x[i+half] = float32(y*c + a*s)
					}
				}
			}
		}
	}
}
