package model

// The KL-regularised convolutional autoencoder of latent diffusion
// (Rombach et al. 2022, arXiv 2112.10752: ldm/models/autoencoder.py
// AutoencoderKL, ldm/modules/diffusionmodules/model.py Encoder/Decoder) —
// the VAE family of Stable Diffusion's latent, and the baseline SVG is
// measured against. novae runs a DiT on its latent as the "VAE twin" of an
// SVG model: same DiT, same sampler, only the latent differs.
//
//	encode: moments = quant_conv(Encoder(x)), x in [-1,1]
//	        mean, logvar = moments.chunk(2): the latent is the posterior mean
//	decode: Decoder(post_quant_conv(z))      (the LDM Decoder of decoder.go)
//
// The latent [B,EmbedDim,r,r] is the DiT's token grid as it is (patch 1):
// r = Resolution/2^(len(ChMult)−1), T = r² tokens of EmbedDim channels,
// normalised per channel with latent.mean/std like SVG's features.

import (
	"fmt"
	"slices"
)

// Latent kinds of a model (Config.Latent).
const (
	LatentSVG = "svg" // DINOv3 features + residual (the default, also when empty)
	LatentVAE = "vae" // the LDM KL autoencoder's posterior mean
)

// VAEConfig is the autoencoder's ddconfig plus embed_dim (official names
// in comments; Stable Diffusion's VAE values after them).
type VAEConfig struct {
	Ch           int   // ch: 128
	ChMult       []int // ch_mult: [1,2,4,4]
	NumResBlocks int   // num_res_blocks: 2 (the decoder has one more per level)
	AttnRes      []int // attn_resolutions: [] (mid attention is always there)
	Resolution   int   // resolution: 256, the image side
	InCh         int   // in_channels: 3
	ZChannels    int   // z_channels: 4; the encoder's conv_out gives 2·ZChannels (double_z)
	EmbedDim     int   // embed_dim: 4, the latent's channels (quant_conv 2Z→2E, post_quant_conv E→Z)
	Groups       int   // GroupNorm groups: 32
	// NoEncoder marks a generation-only file: post_quant_conv and the
	// decoder without encoder.* and quant_conv.*.
	NoEncoder bool `json:",omitempty"`
}

// LatentRes is the side of the latent.
func (c VAEConfig) LatentRes() int { return c.Resolution >> (len(c.ChMult) - 1) }

func (c VAEConfig) Validate() error {
	if c.Ch <= 0 || len(c.ChMult) == 0 || c.NumResBlocks < 0 || c.InCh <= 0 || c.ZChannels <= 0 ||
		c.EmbedDim <= 0 || c.Groups <= 0 || c.Resolution <= 0 {
		return fmt.Errorf("vae config: bad sizes %+v", c)
	}
	if c.Ch%c.Groups != 0 {
		return fmt.Errorf("vae config: %d channels not divisible by %d groups", c.Ch, c.Groups)
	}
	for _, m := range c.ChMult {
		if m <= 0 || (c.Ch*m)%c.Groups != 0 {
			return fmt.Errorf("vae config: %d×%d channels not divisible by %d groups", c.Ch, m, c.Groups)
		}
	}
	if c.LatentRes() < 1 || c.LatentRes()<<(len(c.ChMult)-1) != c.Resolution {
		return fmt.Errorf("vae config: resolution %d not divisible by 2^%d", c.Resolution, len(c.ChMult)-1)
	}
	return nil
}

// LatentKind is c.Latent with the default filled in.
func (c Config) LatentKind() string {
	if c.Latent == "" {
		return LatentSVG
	}
	return c.Latent
}

// EncoderGrid is the side of the token grid the encoders make from an
// image (image side over patch or downsampling): what encode writes and
// reconstruct reads, whatever the DiT's grid.
func (c Config) EncoderGrid() int {
	switch {
	case c.LatentKind() == LatentVAE && c.VAE != nil:
		return c.VAE.LatentRes()
	case c.Dino != nil && c.Residual != nil && c.Residual.Patch > 0:
		return c.Residual.Image / c.Residual.Patch
	}
	return c.DiT.Grid
}

type downLevel struct {
	Block      []resBlock
	Attn       []attnBlock
	Downsample *conv
}

// VAEEncoder is the LDM Encoder (double_z) followed by quant_conv; fields
// mirror the module tree ("encoder.*" and "quant_conv" in the checkpoint).
type VAEEncoder struct {
	Cfg       VAEConfig
	ConvIn    conv
	Down      []downLevel // Down[0] is full resolution
	Mid1      resBlock
	MidAttn   attnBlock
	Mid2      resBlock
	NormOut   norm
	ConvOut   conv
	QuantConv conv // [2E, 2Z, 1, 1], outside the encoder module
}

// Params lists the encoder's tensors with their keys relative to the
// autoencoder ("encoder.conv_in.weight", …, "quant_conv.weight").
func (e *VAEEncoder) Params() []Param {
	c := e.Cfg
	var ps []Param
	convP(&ps, "encoder.conv_in", &e.ConvIn, c.InCh, c.Ch, 3)
	L := len(c.ChMult)
	e.Down = make([]downLevel, L)
	res, blockIn := c.Resolution, c.Ch
	for l := range L {
		d := &e.Down[l]
		out := c.Ch * c.ChMult[l]
		d.Block = make([]resBlock, c.NumResBlocks)
		if slices.Contains(c.AttnRes, res) { // sized up front: Params keep pointers into it
			d.Attn = make([]attnBlock, c.NumResBlocks)
		}
		for j := range d.Block {
			d.Block[j].params(&ps, fmt.Sprintf("encoder.down.%d.block.%d", l, j), blockIn, out)
			blockIn = out
			if d.Attn != nil {
				d.Attn[j].params(&ps, fmt.Sprintf("encoder.down.%d.attn.%d", l, j), out)
			}
		}
		if l != L-1 {
			d.Downsample = &conv{}
			convP(&ps, fmt.Sprintf("encoder.down.%d.downsample.conv", l), d.Downsample, blockIn, blockIn, 3)
			res /= 2
		}
	}
	e.Mid1.params(&ps, "encoder.mid.block_1", blockIn, blockIn)
	e.MidAttn.params(&ps, "encoder.mid.attn_1", blockIn)
	e.Mid2.params(&ps, "encoder.mid.block_2", blockIn, blockIn)
	normP(&ps, "encoder.norm_out", &e.NormOut.W, &e.NormOut.B, blockIn)
	convP(&ps, "encoder.conv_out", &e.ConvOut, blockIn, 2*c.ZChannels, 3)
	convP(&ps, "quant_conv", &e.QuantConv, 2*c.ZChannels, 2*c.EmbedDim, 1)
	return ps
}

// postQuantP lists post_quant_conv [Z, E, 1, 1], the decoder side's 1×1.
func postQuantP(ps *[]Param, c *conv, cfg VAEConfig) {
	convP(ps, "post_quant_conv", c, cfg.EmbedDim, cfg.ZChannels, 1)
}

// LoadVAEEncoder builds the encoder (and quant_conv) from src on b; keys
// are the autoencoder checkpoint's under prefix.
func LoadVAEEncoder(b Backend, src Source, prefix string, cfg VAEConfig) (*VAEEncoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &VAEEncoder{Cfg: cfg}
	if err := Load(b, &onlyPrefixes{src, []string{prefix + "encoder.", prefix + "quant_conv."}}, prefix, e.Params()); err != nil {
		return nil, err
	}
	return e, nil
}

// LoadPostQuant loads post_quant_conv from src on b.
func LoadPostQuant(b Backend, src Source, prefix string, cfg VAEConfig) (*conv, error) {
	c := &conv{}
	var ps []Param
	postQuantP(&ps, c, cfg)
	if err := Load(b, &onlyPrefixes{src, []string{prefix + "post_quant_conv."}}, prefix, ps); err != nil {
		return nil, err
	}
	return c, nil
}

// PostQuant applies post_quant_conv: z [B,E,r,r] → [B,Z,r,r], allocated.
func PostQuant(b Backend, c *conv, z Tensor, B, r int) Tensor {
	y := b.Alloc(B, c.Out, r, r)
	b.Conv2D(y, z, c.W, c.B, B, c.Cin, r, r, c.Out, 1, 0, nil)
	return y
}

// Moments runs the encoder and quant_conv: x [B,InCh,R,R] in [-1,1] →
// [B,2·EmbedDim,r,r] (posterior mean | logvar), allocated on b.
func (e *VAEEncoder) Moments(b Backend, x Tensor, B int) Tensor {
	c := e.Cfg
	G := c.Groups
	H := c.Resolution
	h := b.Alloc(B, c.Ch, H, H)
	b.Conv2D(h, x, e.ConvIn.W, e.ConvIn.B, B, c.InCh, H, H, c.Ch, 3, 1, nil)
	step := func(f func(out, in Tensor), ch, side int) {
		y := b.Alloc(B, ch, side, side)
		f(y, h)
		b.Free(h)
		h = y
	}
	ch := c.Ch
	for l := range e.Down {
		d := &e.Down[l]
		for j := range d.Block {
			blk := &d.Block[j]
			step(func(o, i Tensor) { blk.forward(b, o, i, B, H, H, G) }, blk.Out, H)
			ch = blk.Out
			if len(d.Attn) > 0 {
				at := &d.Attn[j]
				step(func(o, i Tensor) { at.forward(b, o, i, B, H, H, G) }, ch, H)
			}
		}
		if d.Downsample != nil { // F.pad(x, (0,1,0,1)), conv3×3 stride 2
			ds := d.Downsample
			side := H
			step(func(o, i Tensor) { b.Downsample(o, i, ds.W, ds.B, B, ch, side, side, ch) }, ch, H/2)
			H /= 2
		}
	}
	step(func(o, i Tensor) { e.Mid1.forward(b, o, i, B, H, H, G) }, ch, H)
	step(func(o, i Tensor) { e.MidAttn.forward(b, o, i, B, H, H, G) }, ch, H)
	step(func(o, i Tensor) { e.Mid2.forward(b, o, i, B, H, H, G) }, ch, H)
	n := b.Alloc(B, ch, H, H)
	b.GroupNorm(n, h, e.NormOut.W, e.NormOut.B, B, ch, H*H, G, gnEps, true)
	z := b.Alloc(B, 2*c.ZChannels, H, H)
	b.Conv2D(z, n, e.ConvOut.W, e.ConvOut.B, B, ch, H, H, 2*c.ZChannels, 3, 1, nil)
	m := b.Alloc(B, 2*c.EmbedDim, H, H)
	b.Conv2D(m, z, e.QuantConv.W, e.QuantConv.B, B, 2*c.ZChannels, H, H, 2*c.EmbedDim, 1, 0, nil)
	b.Free(h, n, z)
	return m
}

// onlyPrefixes shows Check only the keys under the given prefixes (the
// encoder's and decoder's halves of one checkpoint load separately).
type onlyPrefixes struct {
	Source
	prefixes []string
}

func (o *onlyPrefixes) Names() []string {
	var out []string
	for _, n := range o.Source.Names() {
		for _, p := range o.prefixes {
			if hasPrefix(n, p) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// encodeVAE is Encode for a VAE-latent model: images [B,3,S,S] in [-1,1] →
// normalised tokens [B,r²,E] of the posterior mean.
func (m *SVG) encodeVAE(b Backend, img Tensor, B int) (Tensor, error) {
	c := *m.Cfg.VAE
	r, E := c.LatentRes(), c.EmbedDim
	mom, err := b.Read(m.VAE.Moments(b, img, B))
	if err != nil {
		return nil, err
	}
	T := r * r
	lat := make([]float32, B*T*E)
	for n := range B { // mean = moments[:, :E], NCHW → tokens
		for ch := range E {
			for t := range T {
				lat[(n*T+t)*E+ch] = mom[(n*2*E+ch)*T+t]
			}
		}
	}
	if err := m.normalise(b, lat, E); err != nil {
		return nil, err
	}
	return b.Upload(lat, B, T, E), nil
}

// InputNorm is the per-channel (mean, std) with which Encode wants pixels
// in [0,1]: x = (p − mean)/std. An SVG latent's encoders take ImageNet-
// normalised images (DINOv3's input); the LDM autoencoder takes [-1,1]
// (mean = std = 0.5).
func (c Config) InputNorm() (mean, std [3]float32) {
	if c.LatentKind() == LatentVAE {
		return [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}
	}
	return [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
}
