package model

// The LDM convolutional decoder (Rombach et al. 2022,
// ldm/modules/diffusionmodules/model.py), which SVG trains to map the
// 392-channel feature map back to pixels. GroupNorm(32, eps 1e-6) and
// swish everywhere; single-head attention at the lowest resolution.

import (
	"fmt"
	"math"
	"slices"
)

// DecoderConfig sizes the decoder. SVG values in comments.
type DecoderConfig struct {
	ZChannels    int   // 392
	Ch           int   // 128
	ChMult       []int // [1,1,2,2,4]
	NumResBlocks int   // 2 (the up path has NumResBlocks+1 per level)
	AttnRes      []int // [16]: resolutions with attention
	Resolution   int   // 256: output side
	OutCh        int   // 3
	Groups       int   // 32
}

// SVGDecoder is the official SVG autoencoder's decoder.
var SVGDecoder = DecoderConfig{ZChannels: 392, Ch: 128, ChMult: []int{1, 1, 2, 2, 4}, NumResBlocks: 2,
	AttnRes: []int{16}, Resolution: 256, OutCh: 3, Groups: 32}

// LatentRes is the side of the latent the decoder takes.
func (c DecoderConfig) LatentRes() int { return c.Resolution >> (len(c.ChMult) - 1) }

func (c DecoderConfig) Validate() error {
	if c.ZChannels <= 0 || c.Ch <= 0 || len(c.ChMult) == 0 || c.NumResBlocks < 0 || c.OutCh <= 0 || c.Groups <= 0 {
		return fmt.Errorf("decoder config: bad sizes %+v", c)
	}
	for _, m := range c.ChMult {
		if (c.Ch*m)%c.Groups != 0 {
			return fmt.Errorf("decoder config: %d channels not divisible by %d groups", c.Ch*m, c.Groups)
		}
	}
	if c.LatentRes()<<(len(c.ChMult)-1) != c.Resolution {
		return fmt.Errorf("decoder config: resolution %d not divisible by 2^%d", c.Resolution, len(c.ChMult)-1)
	}
	return nil
}

type conv struct {
	W, B     Tensor
	Cin, Out int
	K        int
}

type norm struct{ W, B Tensor }

type resBlock struct {
	Norm1       norm
	Conv1       conv
	Norm2       norm
	Conv2       conv
	NinShortcut *conv // 1×1 when channels change
	In, Out     int
}

type attnBlock struct {
	Norm          norm
	Q, K, V, Proj conv
	C             int
}

type upLevel struct {
	Block    []resBlock
	Attn     []attnBlock
	Upsample *conv
}

// Decoder holds the weights; fields mirror the module tree.
type Decoder struct {
	Cfg     DecoderConfig
	ConvIn  conv
	Mid1    resBlock
	MidAttn attnBlock
	Mid2    resBlock
	Up      []upLevel // indexed by level as in PyTorch: Up[0] is full resolution
	NormOut norm
	ConvOut conv
}

func convP(ps *[]Param, name string, c *conv, cin, cout, k int) {
	*c = conv{Cin: cin, Out: cout, K: k}
	tensorP(ps, name+".weight", &c.W, cout, cin, k, k)
	tensorP(ps, name+".bias", &c.B, cout)
}

func (r *resBlock) params(ps *[]Param, name string, in, out int) {
	r.In, r.Out = in, out
	normP(ps, name+".norm1", &r.Norm1.W, &r.Norm1.B, in)
	convP(ps, name+".conv1", &r.Conv1, in, out, 3)
	normP(ps, name+".norm2", &r.Norm2.W, &r.Norm2.B, out)
	convP(ps, name+".conv2", &r.Conv2, out, out, 3)
	if in != out {
		r.NinShortcut = &conv{}
		convP(ps, name+".nin_shortcut", r.NinShortcut, in, out, 1)
	}
}

func (a *attnBlock) params(ps *[]Param, name string, c int) {
	a.C = c
	normP(ps, name+".norm", &a.Norm.W, &a.Norm.B, c)
	convP(ps, name+".q", &a.Q, c, c, 1)
	convP(ps, name+".k", &a.K, c, c, 1)
	convP(ps, name+".v", &a.V, c, c, 1)
	convP(ps, name+".proj_out", &a.Proj, c, c, 1)
}

// Params lists the decoder's tensors with their official keys.
func (d *Decoder) Params() []Param {
	c := d.Cfg
	var ps []Param
	levels := len(c.ChMult)
	blockIn := c.Ch * c.ChMult[levels-1]
	convP(&ps, "conv_in", &d.ConvIn, c.ZChannels, blockIn, 3)
	d.Mid1.params(&ps, "mid.block_1", blockIn, blockIn)
	d.MidAttn.params(&ps, "mid.attn_1", blockIn)
	d.Mid2.params(&ps, "mid.block_2", blockIn, blockIn)
	d.Up = make([]upLevel, levels)
	res := c.LatentRes()
	for l := levels - 1; l >= 0; l-- {
		up := &d.Up[l]
		out := c.Ch * c.ChMult[l]
		up.Block = make([]resBlock, c.NumResBlocks+1)
		if slices.Contains(c.AttnRes, res) { // sized up front: Params keep pointers into it
			up.Attn = make([]attnBlock, len(up.Block))
		}
		for j := range up.Block {
			up.Block[j].params(&ps, fmt.Sprintf("up.%d.block.%d", l, j), blockIn, out)
			blockIn = out
			if up.Attn != nil {
				up.Attn[j].params(&ps, fmt.Sprintf("up.%d.attn.%d", l, j), out)
			}
		}
		if l != 0 {
			up.Upsample = &conv{}
			convP(&ps, fmt.Sprintf("up.%d.upsample.conv", l), up.Upsample, out, out, 3)
			res *= 2
		}
	}
	normP(&ps, "norm_out", &d.NormOut.W, &d.NormOut.B, blockIn)
	convP(&ps, "conv_out", &d.ConvOut, blockIn, c.OutCh, 3)
	return ps
}

// LoadDecoder builds a decoder from src on b.
func LoadDecoder(b Backend, src Source, prefix string, cfg DecoderConfig) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Decoder{Cfg: cfg}
	if err := Load(b, src, prefix, d.Params()); err != nil {
		return nil, err
	}
	return d, nil
}

const gnEps = 1e-6

// resnet: h = conv1(swish(GN(x))); h = conv2(swish(GN(h))); out = shortcut(x) + h.
func (r *resBlock) forward(b Backend, out, x Tensor, B, H, W, G int) {
	HW := H * W
	t := b.Alloc(B, r.In, H, W)
	b.GroupNorm(t, x, r.Norm1.W, r.Norm1.B, B, r.In, HW, G, gnEps, true)
	h := b.Alloc(B, r.Out, H, W)
	b.Conv2D(h, t, r.Conv1.W, r.Conv1.B, B, r.In, H, W, r.Out, 3, 1, nil)
	t2 := b.Alloc(B, r.Out, H, W)
	b.GroupNorm(t2, h, r.Norm2.W, r.Norm2.B, B, r.Out, HW, G, gnEps, true)
	skip := x
	if r.NinShortcut != nil {
		skip = b.Alloc(B, r.Out, H, W)
		b.Conv2D(skip, x, r.NinShortcut.W, r.NinShortcut.B, B, r.In, H, W, r.Out, 1, 0, nil)
	}
	b.Conv2D(out, t2, r.Conv2.W, r.Conv2.B, B, r.Out, H, W, r.Out, 3, 1, skip)
	if r.NinShortcut != nil {
		b.Free(skip)
	}
	b.Free(t, h, t2)
}

// attention: x + proj(softmax(q·kᵀ/√C)·v) over all H·W positions, one head.
func (a *attnBlock) forward(b Backend, out, x Tensor, B, H, W, G int) {
	C, HW := a.C, H*W
	h := b.Alloc(B, C, H, W)
	b.GroupNorm(h, x, a.Norm.W, a.Norm.B, B, C, HW, G, gnEps, false)
	q, k, v := b.Alloc(B, C, H, W), b.Alloc(B, C, H, W), b.Alloc(B, C, H, W)
	b.Conv2D(q, h, a.Q.W, a.Q.B, B, C, H, W, C, 1, 0, nil)
	b.Conv2D(k, h, a.K.W, a.K.B, B, C, H, W, C, 1, 0, nil)
	b.Conv2D(v, h, a.V.W, a.V.B, B, C, H, W, C, 1, 0, nil)
	att := b.Alloc(B, C, H, W)
	b.AttentionNCHW(att, q, k, v, B, C, HW, float32(1/math.Sqrt(float64(C))))
	b.Conv2D(out, att, a.Proj.W, a.Proj.B, B, C, H, W, C, 1, 0, x)
	b.Free(h, q, k, v, att)
}

// Forward decodes z [B,ZChannels,h,w] (NCHW) to an image [B,OutCh,H,W] in
// about [-1,1]. The result is allocated on b; free it when done.
func (d *Decoder) Forward(b Backend, z Tensor, B int) Tensor {
	c := d.Cfg
	G := c.Groups
	H := c.LatentRes()
	W := H
	ch := c.Ch * c.ChMult[len(c.ChMult)-1]
	x := b.Alloc(B, ch, H, W)
	b.Conv2D(x, z, d.ConvIn.W, d.ConvIn.B, B, c.ZChannels, H, W, ch, 3, 1, nil)
	step := func(f func(out, in Tensor), outCh int) {
		y := b.Alloc(B, outCh, H, W)
		f(y, x)
		b.Free(x)
		x = y
	}
	step(func(o, i Tensor) { d.Mid1.forward(b, o, i, B, H, W, G) }, ch)
	step(func(o, i Tensor) { d.MidAttn.forward(b, o, i, B, H, W, G) }, ch)
	step(func(o, i Tensor) { d.Mid2.forward(b, o, i, B, H, W, G) }, ch)
	for l := len(c.ChMult) - 1; l >= 0; l-- {
		up := &d.Up[l]
		for j := range up.Block {
			blk := &up.Block[j]
			step(func(o, i Tensor) { blk.forward(b, o, i, B, H, W, G) }, blk.Out)
			ch = blk.Out
			if len(up.Attn) > 0 {
				at := &up.Attn[j]
				step(func(o, i Tensor) { at.forward(b, o, i, B, H, W, G) }, ch)
			}
		}
		if up.Upsample != nil { // nearest ×2 then conv3×3, fused
			u := b.Alloc(B, ch, 2*H, 2*W)
			b.UpsampleConv(u, x, up.Upsample.W, up.Upsample.B, B, ch, H, W, ch)
			b.Free(x)
			x = u
			H, W = 2*H, 2*W
		}
	}
	n := b.Alloc(B, ch, H, W)
	b.GroupNorm(n, x, d.NormOut.W, d.NormOut.B, B, ch, H*W, G, gnEps, true)
	out := b.Alloc(B, c.OutCh, H, W)
	b.Conv2D(out, n, d.ConvOut.W, d.ConvOut.B, B, ch, H, W, c.OutCh, 3, 1, nil)
	b.Free(x, n)
	return out
}
