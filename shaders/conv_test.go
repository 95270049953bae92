package shaders_test

import (
	"fmt"
	"testing"

	"novae/shaders"
	"novae/shaders/ref"
)

type convCase struct {
	B, Cin, Cout, H, W int
	k, stride, pad     int
	bias               bool
	res                string // "", "r" (distinct tensor) or "acc" (accumulate into y)
	up2                bool
	split              int // Engine.ConvSplit: K summed in this many parts (0: the plan's)
}

func (c convCase) String() string {
	s := fmt.Sprintf("B=%d,Cin=%d,Cout=%d,H=%d,W=%d,k=%d", c.B, c.Cin, c.Cout, c.H, c.W, c.k)
	if c.stride != 1 || c.pad != c.k/2 {
		s += fmt.Sprintf(",stride=%d,pad=%d", c.stride, c.pad)
	}
	if c.bias {
		s += ",bias"
	}
	if c.res != "" {
		s += ",res=" + c.res
	}
	if c.up2 {
		s += ",up2"
	}
	if c.split != 0 {
		s += fmt.Sprintf(",split=%d", c.split)
	}
	return s
}

var convCases = []convCase{
	{B: 1, Cin: 5, Cout: 7, H: 9, W: 11, k: 3, stride: 1, pad: 1},
	{B: 2, Cin: 5, Cout: 7, H: 9, W: 11, k: 3, stride: 1, pad: 1, bias: true, res: "r"},
	{B: 2, Cin: 5, Cout: 7, H: 9, W: 11, k: 3, stride: 1, pad: 1, bias: true, res: "acc"},
	{B: 2, Cin: 5, Cout: 7, H: 9, W: 11, k: 1, stride: 1, pad: 0, bias: true},
	{B: 1, Cin: 3, Cout: 17, H: 7, W: 5, k: 3, stride: 2, pad: 0, bias: true},
	{B: 2, Cin: 5, Cout: 7, H: 5, W: 6, k: 3, stride: 1, pad: 1, bias: true, up2: true},
	{B: 1, Cin: 64, Cout: 32, H: 16, W: 16, k: 3, stride: 1, pad: 1, bias: true},
	{B: 2, Cin: 64, Cout: 32, H: 16, W: 16, k: 3, stride: 1, pad: 1, bias: true, res: "r"},
	{B: 1, Cin: 392, Cout: 512, H: 4, W: 4, k: 1, stride: 1, pad: 0, bias: true},
	{B: 1, Cin: 32, Cout: 3, H: 20, W: 24, k: 3, stride: 1, pad: 1, bias: true}, // conv_out: the 16×256 tile
	{B: 1, Cin: 16, Cout: 16, H: 8, W: 8, k: 3, stride: 1, pad: 1, bias: true, up2: true},
	{B: 2, Cin: 3, Cout: 24, H: 32, W: 48, k: 16, stride: 16, pad: 0, bias: true}, // patch embedding, NCHW out
	{B: 1, Cin: 65, Cout: 129, H: 3, W: 70, k: 3, stride: 1, pad: 1, res: "acc"},  // partial tiles both ways
	// split-K: K = Cin·k² in parts of whole 16-steps, the last one short
	{B: 1, Cin: 64, Cout: 32, H: 16, W: 16, k: 3, stride: 1, pad: 1, bias: true, split: 3},
	{B: 2, Cin: 64, Cout: 32, H: 16, W: 16, k: 3, stride: 1, pad: 1, bias: true, res: "r", split: 5},
	{B: 1, Cin: 65, Cout: 129, H: 3, W: 70, k: 3, stride: 1, pad: 1, res: "acc", split: 4},
	{B: 2, Cin: 33, Cout: 7, H: 5, W: 6, k: 3, stride: 1, pad: 1, bias: true, up2: true, split: 2}, // the 16×256 tile
	{B: 1, Cin: 392, Cout: 72, H: 4, W: 4, k: 1, stride: 1, pad: 0, bias: true, split: 16},
	{B: 1, Cin: 5, Cout: 7, H: 9, W: 11, k: 3, stride: 1, pad: 1, bias: true, split: 8}, // 45 of K: 3 parts of 16
}

// TestConv2D: GPU against ref.Conv2D (float64 sums), both kernels (conv and
// conv_prefetch) on every case. Tolerance 1e-5 abs + 1e-5 rel: up to
// 3528-term sums of O(0.2) products, summed in another order.
func TestConv2D(t *testing.T) {
	for _, kern := range []string{"conv", "conv_prefetch"} {
		eng.ConvKernel = kern
		t.Run(kern, testConv2D)
	}
	eng.ConvKernel = ""
}

func testConv2D(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			u := 1
			if c.up2 {
				u = 2
			}
			Ho, Wo := ref.ConvOut(c.H*u, c.k, c.stride, c.pad), ref.ConvOut(c.W*u, c.k, c.stride, c.pad)
			rng := seeded(c.String())
			x := randn(rng, c.B*c.Cin*c.H*c.W, 1)
			w := randn(rng, c.Cout*c.Cin*c.k*c.k, 0.2)
			ny := c.B * c.Cout * Ho * Wo
			y0 := randn(rng, ny, 1)
			var bias, res []float32
			if c.bias {
				bias = randn(rng, c.Cout, 0.5)
			}
			want := append([]float32(nil), y0...)
			switch c.res {
			case "r":
				res = randn(rng, ny, 1)
				ref.Conv2D(want, x, w, bias, res, c.B, c.Cin, c.H, c.W, c.Cout, c.k, c.stride, c.pad, c.up2)
			case "acc":
				ref.Conv2D(want, x, w, bias, want, c.B, c.Cin, c.H, c.W, c.Cout, c.k, c.stride, c.pad, c.up2)
			default:
				ref.Conv2D(want, x, w, bias, nil, c.B, c.Cin, c.H, c.W, c.Cout, c.k, c.stride, c.pad, c.up2)
			}

			xt := eng.Upload(x, c.B, c.Cin, c.H, c.W)
			wt := eng.Upload(w, c.Cout, c.Cin, c.k, c.k)
			yt := eng.Upload(y0, c.B, c.Cout, Ho, Wo)
			var bt, rt *shaders.Tensor
			if bias != nil {
				bt = eng.Upload(bias, c.Cout)
			}
			o := shaders.ConvOpts{Up2: c.up2}
			switch c.res {
			case "r":
				rt = eng.Upload(res, ny)
				o.Res = rt
			case "acc":
				o.Res = yt
			}
			eng.ConvSplit = c.split
			eng.Conv2D(yt, xt, wt, bt, c.B, c.Cin, c.H, c.W, c.Cout, c.k, c.stride, c.pad, o)
			eng.ConvSplit = 0
			check(t, "conv", read(t, yt), want, 1e-5, 1e-5)
			for _, tt := range []*shaders.Tensor{xt, wt, yt, bt, rt} {
				tt.Release()
			}
		})
	}
}

// TestConv2DUp2MatchesUpsample: the fused Up2 path equals Upsample2x then
// Conv2D on the GPU (the LDM Upsample block both ways).
func TestConv2DUp2MatchesUpsample(t *testing.T) {
	const B, C, H, W = 1, 8, 6, 5
	rng := seeded("up2")
	x := eng.Upload(randn(rng, B*C*H*W, 1), B, C, H, W)
	w := eng.Upload(randn(rng, C*C*9, 0.2), C, C, 3, 3)
	b := eng.Upload(randn(rng, C, 0.5), C)
	up := eng.Empty(shaders.F32, B, C, 2*H, 2*W)
	y1 := eng.Empty(shaders.F32, B, C, 2*H, 2*W)
	y2 := eng.Empty(shaders.F32, B, C, 2*H, 2*W)
	eng.Upsample2x(up, x, B, C, H, W)
	eng.Conv2D(y1, up, w, b, B, C, 2*H, 2*W, C, 3, 1, 1, shaders.ConvOpts{})
	eng.Conv2D(y2, x, w, b, B, C, H, W, C, 3, 1, 1, shaders.ConvOpts{Up2: true})
	check(t, "conv(up2) vs conv(upsample)", read(t, y2), read(t, y1), 0, 0)
	for _, tt := range []*shaders.Tensor{x, w, b, up, y1, y2} {
		tt.Release()
	}
}

type patchCase struct{ B, Cin, Cout, H, W, patch int }

func (c patchCase) String() string {
	return fmt.Sprintf("B=%d,Cin=%d,Cout=%d,H=%d,W=%d,patch=%d", c.B, c.Cin, c.Cout, c.H, c.W, c.patch)
}

// TestPatchEmbed: token-major patch embedding against ref.PatchEmbed,
// 1e-5 abs + 1e-5 rel (768-term sums), both kernels, unsplit and with K
// split in parts.
func TestPatchEmbed(t *testing.T) {
	for _, kern := range []string{"conv", "conv_prefetch"} {
		for _, split := range []int{0, 3} {
			eng.ConvKernel, eng.ConvSplit = kern, split
			t.Run(fmt.Sprintf("%s/split=%d", kern, split), testPatchEmbed)
		}
	}
	eng.ConvKernel, eng.ConvSplit = "", 0
}

func testPatchEmbed(t *testing.T) {
	for _, c := range []patchCase{
		{B: 1, Cin: 3, Cout: 24, H: 32, W: 48, patch: 16},
		{B: 2, Cin: 3, Cout: 24, H: 32, W: 48, patch: 16},
		{B: 2, Cin: 5, Cout: 7, H: 12, W: 9, patch: 4}, // W not a multiple: the last column is dropped
		{B: 1, Cin: 3, Cout: 384, H: 48, W: 32, patch: 16},
	} {
		t.Run(c.String(), func(t *testing.T) {
			T := (c.H / c.patch) * (c.W / c.patch)
			rng := seeded(c.String())
			img := randn(rng, c.B*c.Cin*c.H*c.W, 1)
			w := randn(rng, c.Cout*c.Cin*c.patch*c.patch, 0.1)
			bias := randn(rng, c.Cout, 0.5)
			want := make([]float32, c.B*T*c.Cout)
			ref.PatchEmbed(want, img, w, bias, c.B, c.Cin, c.H, c.W, c.Cout, c.patch)
			it := eng.Upload(img, c.B, c.Cin, c.H, c.W)
			wt := eng.Upload(w, c.Cout, c.Cin, c.patch, c.patch)
			bt := eng.Upload(bias, c.Cout)
			yt := eng.Empty(shaders.F32, c.B, T, c.Cout)
			eng.PatchEmbed(yt, it, wt, bt, c.B, c.Cin, c.H, c.W, c.Cout, c.patch)
			check(t, "patch_embed", read(t, yt), want, 1e-5, 1e-5)
			for _, tt := range []*shaders.Tensor{it, wt, bt, yt} {
				tt.Release()
			}
		})
	}
}
