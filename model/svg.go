package model

// The whole SVG system as novae ships it: one weights file holding the DiT
// (keys under "dit."), the autoencoder ("encoder." DINOv3, "extra_vit."
// residual ViT, "decoder."), the latent statistics ("latent.mean",
// "latent.std") and the config as JSON in the metadata key "config".
//
// A model of latent kind "vae" (vae.go) is the same file with the LDM KL
// autoencoder instead: "encoder." is then the LDM Encoder, plus
// "quant_conv." beside it and "post_quant_conv." before "decoder.".

import (
	"encoding/json"
	"fmt"
	"math"
)

// Config describes a complete model. Encoders are optional: generation
// needs only the DiT and the decoder.
type Config struct {
	Name        string         `json:"name"`
	Image       int            `json:"image"` // pixel side, 256 for SVG-XL
	Classes     []string       `json:"classes,omitempty"`
	DiT         DiTConfig      `json:"dit"`
	Decoder     DecoderConfig  `json:"decoder"`
	Dino        *DinoConfig    `json:"dino,omitempty"`
	Residual    *ResViTConfig  `json:"residual,omitempty"`
	Defaults    SampleDefaults `json:"defaults"`
	FeatureNorm bool           `json:"feature_norm"` // latent normalised with latent.mean/std
	// Latent is the kind of latent the DiT samples: "svg" (or empty) or
	// "vae"; a "vae" model has VAE and neither Dino nor Residual.
	Latent string     `json:"latent,omitempty"`
	VAE    *VAEConfig `json:"vae,omitempty"`
}

// SampleDefaults are the sampler settings a model card recommends.
type SampleDefaults struct {
	Steps    int     `json:"steps"`
	CFG      float64 `json:"cfg"`
	Shift    float64 `json:"shift"`
	Schedule string  `json:"schedule"`
}

// OfficialDefaults are the official sample script's settings.
var OfficialDefaults = SampleDefaults{Steps: 25, CFG: 4, Shift: 0.15, Schedule: "constant"}

// SVGXLConfig is the paper's ImageNet 256 model.
func SVGXLConfig() Config {
	d, r := DinoS16Plus, SVGResidual
	return Config{Name: "svg-xl", Image: 256, DiT: SVGXL, Decoder: SVGDecoder, Dino: &d, Residual: &r,
		Defaults: OfficialDefaults, FeatureNorm: true}
}

// ParseConfig reads the "config" metadata of a weights file.
func ParseConfig(meta map[string]string) (Config, error) {
	var c Config
	s, ok := meta["config"]
	if !ok {
		return c, fmt.Errorf("weights carry no \"config\" metadata: convert them with novae convert")
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &sections); err != nil {
		return c, fmt.Errorf("bad config metadata: %w", err)
	}
	if _, ok := sections["dit"]; !ok {
		return c, fmt.Errorf("the \"config\" metadata is not a novae model config (no \"dit\" section; another tool's file?): convert the weights with novae convert")
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("bad config metadata: %w", err)
	}
	if err := c.checkBounds(); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks the parts against each other.
func (c Config) Validate() error {
	if err := c.DiT.Validate(); err != nil {
		return err
	}
	if err := c.Decoder.Validate(); err != nil {
		return err
	}
	switch c.Latent {
	case "", LatentSVG:
		if c.VAE != nil {
			return fmt.Errorf("config: a VAE section in a model of latent kind %q (want \"vae\")", c.LatentKind())
		}
	case LatentVAE:
		return c.validateVAE()
	default:
		return fmt.Errorf("config: unknown latent kind %q (want \"svg\" or \"vae\")", c.Latent)
	}
	if c.Decoder.ZChannels != c.DiT.InChannels {
		return fmt.Errorf("config: decoder takes %d channels, DiT makes %d", c.Decoder.ZChannels, c.DiT.InChannels)
	}
	if c.Decoder.LatentRes() != c.DiT.Grid || c.Decoder.Resolution != c.Image {
		return fmt.Errorf("config: decoder maps %d² → %d², DiT grid is %d², image %d²",
			c.Decoder.LatentRes(), c.Decoder.Resolution, c.DiT.Grid, c.Image)
	}
	if c.Dino != nil {
		if err := c.Dino.Validate(); err != nil {
			return err
		}
		if c.Residual == nil || c.Dino.Dim+c.Residual.OutDim != c.DiT.InChannels {
			return fmt.Errorf("config: encoders make %d+%d channels, DiT takes %d", c.Dino.Dim, resOut(c.Residual), c.DiT.InChannels)
		}
	}
	if c.Residual != nil {
		if err := c.Residual.Validate(); err != nil {
			return err
		}
	}
	if len(c.Classes) > 0 && len(c.Classes) != c.DiT.NumClasses {
		return fmt.Errorf("config: %d class names for %d classes", len(c.Classes), c.DiT.NumClasses)
	}
	return nil
}

// validateVAE checks a model of latent kind "vae": the DiT samples the
// encoder's EmbedDim channels on its latent grid, post_quant_conv maps them
// to the decoder's ZChannels, and the decoder returns the encoder's image.
func (c Config) validateVAE() error {
	v := c.VAE
	if v == nil {
		return fmt.Errorf("config: latent kind \"vae\" without a \"vae\" section")
	}
	if c.Dino != nil || c.Residual != nil {
		return fmt.Errorf("config: a model of latent kind \"vae\" has no DINOv3 or residual ViT")
	}
	if err := v.Validate(); err != nil {
		return err
	}
	if v.EmbedDim != c.DiT.InChannels {
		return fmt.Errorf("config: the VAE latent has %d channels, the DiT takes %d", v.EmbedDim, c.DiT.InChannels)
	}
	if v.ZChannels != c.Decoder.ZChannels {
		return fmt.Errorf("config: post_quant_conv makes %d channels, the decoder takes %d", v.ZChannels, c.Decoder.ZChannels)
	}
	if v.LatentRes() != c.DiT.Grid || c.Decoder.LatentRes() != c.DiT.Grid || c.Decoder.Resolution != c.Image || v.Resolution != c.Image {
		return fmt.Errorf("config: the VAE maps %d² → %d², the decoder %d² → %d², DiT grid is %d², image %d²",
			v.Resolution, v.LatentRes(), c.Decoder.LatentRes(), c.Decoder.Resolution, c.DiT.Grid, c.Image)
	}
	if len(c.Classes) > 0 && len(c.Classes) != c.DiT.NumClasses {
		return fmt.Errorf("config: %d class names for %d classes", len(c.Classes), c.DiT.NumClasses)
	}
	return nil
}

func resOut(r *ResViTConfig) int {
	if r == nil {
		return 0
	}
	return r.OutDim
}

// Key prefixes inside a novae weights file.
const (
	PrefixDiT       = "dit."
	PrefixDino      = "encoder."
	PrefixResidual  = "extra_vit."
	PrefixDecoder   = "decoder."
	PrefixQuant     = "quant_conv."      // VAE: after the encoder (LDM key)
	PrefixPostQuant = "post_quant_conv." // VAE: before the decoder (LDM key)
	KeyMean         = "latent.mean"
	KeyStd          = "latent.std"
)

// SVG is a loaded model.
type SVG struct {
	Cfg       Config
	DiT       *DiT
	Decoder   *Decoder
	Dino      *Dino   // nil when the file has no encoders
	Residual  *ResViT // nil likewise
	Mean, Std Tensor  // [C] latent statistics (nil: no feature norm)
	// Latent kind "vae": the encoder with quant_conv (nil when the file
	// has no encoders) and post_quant_conv (always).
	VAE       *VAEEncoder
	PostQuant *conv
}

// Params lists every tensor of the model with its file key.
func (m *SVG) Params() []Param {
	var ps []Param
	add := func(prefix string, sub []Param) {
		for _, p := range sub {
			p.Name = prefix + p.Name
			ps = append(ps, p)
		}
	}
	add(PrefixDiT, m.DiT.Params())
	add(PrefixDecoder, m.Decoder.Params())
	if m.PostQuant != nil {
		postQuantP(&ps, m.PostQuant, *m.Cfg.VAE)
	}
	if m.VAE != nil {
		add("", m.VAE.Params())
	}
	if m.Dino != nil {
		add(PrefixDino, m.Dino.Params())
		add(PrefixResidual, m.Residual.Params())
	}
	if m.Cfg.FeatureNorm {
		tensorP(&ps, KeyMean, &m.Mean, m.Cfg.DiT.InChannels)
		tensorP(&ps, KeyStd, &m.Std, m.Cfg.DiT.InChannels)
	}
	return ps
}

// Skeleton builds the structs without weights, ready for Params: the one
// list of keys and shapes that loading, converting and random weights share.
func Skeleton(cfg Config, encoders bool) *SVG {
	m := &SVG{Cfg: cfg, DiT: &DiT{Cfg: cfg.DiT}, Decoder: &Decoder{Cfg: cfg.Decoder}}
	if cfg.LatentKind() == LatentVAE && cfg.VAE != nil {
		m.PostQuant = &conv{}
		if encoders && !cfg.VAE.NoEncoder {
			m.VAE = &VAEEncoder{Cfg: *cfg.VAE}
		}
		return m
	}
	if encoders && cfg.Dino != nil && cfg.Residual != nil {
		m.Dino, m.Residual = &Dino{Cfg: *cfg.Dino}, &ResViT{Cfg: *cfg.Residual}
	}
	return m
}

// Open loads a model from src onto b. With encoders false the encoders are
// skipped (generation does not need them).
func Open(b Backend, src Source, cfg Config, encoders bool) (*SVG, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	probe, hide := PrefixDino+"cls_token", []string{PrefixDino, PrefixResidual}
	if cfg.LatentKind() == LatentVAE {
		probe, hide = PrefixDino+"conv_in.weight", []string{PrefixDino, PrefixQuant}
	}
	if encoders {
		if _, ok := src.Lookup(probe); !ok {
			encoders = false
		}
	}
	m := Skeleton(cfg, encoders)
	ps := m.Params()
	if encoders {
		hide = nil
	}
	if err := Load(b, &prefixFilter{src, hide}, "", ps); err != nil {
		return nil, err
	}
	if m.DiT.PosEmbed == nil {
		m.DiT.PosEmbed = b.Upload(PosEmbed2D(cfg.DiT.Hidden, cfg.DiT.Grid), 1, cfg.DiT.tokens(), cfg.DiT.Hidden)
	}
	if m.Dino != nil {
		p, err := b.Read(m.Dino.periodsT)
		if err != nil {
			return nil, err
		}
		m.Dino.Periods = p
	}
	return m, b.Flush()
}

// prefixFilter hides the encoder keys (under hide) when they are not
// loaded, so Check does not call them unexpected.
type prefixFilter struct {
	Source
	hide []string
}

func (p *prefixFilter) Names() []string {
	var out []string
next:
	for _, n := range p.Source.Names() {
		for _, h := range p.hide {
			if hasPrefix(n, h) {
				continue next
			}
		}
		out = append(out, n)
	}
	return out
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// Decode maps sampled latents [B,T,C] (normalised space) to images
// [B,3,Image,Image] in about [-1,1]: x = z·std + mean, tokens → NCHW,
// decoder. The caller frees the result.
//
// The decoder's feature maps are large (32 MiB per image at 256²), so on a
// GPU the batch is decoded in chunks whose tensors fit one binding.
func (m *SVG) Decode(b Backend, z Tensor, B int) Tensor {
	n := m.decodeChunk(b, B)
	if n >= B {
		return m.decode(b, z, B)
	}
	c := m.Cfg
	T, C, S := c.DiT.tokens(), c.DiT.InChannels, c.Decoder.Resolution
	px := c.Decoder.OutCh * S * S
	img := b.Alloc(B, c.Decoder.OutCh, S, S)
	for i := 0; i < B; i += n {
		k := min(n, B-i)
		part := b.Alloc(k, T, C)
		b.CopyRegion(part, 0, z, i*T*C, k*T*C)
		out := m.decode(b, part, k)
		b.CopyRegion(img, i*px, out, 0, k*px)
		b.Free(out, part)
	}
	return img
}

// normalise maps token-major latents of C channels, in place, into the
// space the DiT was trained in: (z − mean)/std per channel, with the
// training set's statistics (nothing to do for a model without them).
func (m *SVG) normalise(b Backend, lat []float32, C int) error {
	if m.Mean == nil {
		return nil
	}
	mean, err := b.Read(m.Mean)
	if err != nil {
		return err
	}
	std, err := b.Read(m.Std)
	if err != nil {
		return err
	}
	for i := range lat {
		lat[i] = (lat[i] - mean[i%C]) / std[i%C]
	}
	return nil
}

// decode is Decode for a batch that fits.
func (m *SVG) decode(b Backend, z Tensor, B int) Tensor {
	c := m.Cfg
	T, C := c.DiT.tokens(), c.DiT.InChannels
	x := z
	if m.Mean != nil {
		x = b.Alloc(B, T, C)
		b.Denormalize(x, z, m.Mean, m.Std, C)
	}
	nchw := b.Alloc(B, C, c.DiT.Grid, c.DiT.Grid)
	b.TokensToNCHW(nchw, x, B, T, C)
	if m.PostQuant != nil {
		z := PostQuant(b, m.PostQuant, nchw, B, c.DiT.Grid)
		b.Free(nchw)
		nchw = z
	}
	img := m.Decoder.Forward(b, nchw, B)
	if x != z {
		b.Free(x)
	}
	b.Free(nchw)
	return img
}

// EncoderImage is the side of the images the encoders take (the residual
// ViT's position table fixes it; 256 for SVG, like the decoder's output).
func (m *SVG) EncoderImage() int {
	if m.Cfg.VAE != nil {
		return m.Cfg.VAE.Resolution
	}
	if m.Residual != nil {
		return m.Residual.Cfg.Image
	}
	return m.Cfg.Image
}

// Encode maps images [B,3,S,S] (S = EncoderImage; ImageNet-normalised for
// an SVG latent, in [-1,1] for a VAE latent: see InputNorm) to latents
// [B,T,C] in the normalised space the DiT samples in, T = EncoderGrid².
// SVG: the residual features are aligned to the DINO features' statistics
// over this batch, as the official autoencoder does (so the result depends
// on the batch). VAE: the posterior mean, per image.
func (m *SVG) Encode(b Backend, img Tensor, B int) (Tensor, error) {
	if m.Cfg.LatentKind() == LatentVAE {
		if m.VAE == nil {
			return nil, fmt.Errorf("encode: this model file has no encoder")
		}
		return m.encodeVAE(b, img, B)
	}
	if m.Dino == nil {
		return nil, fmt.Errorf("encode: this model file has no encoders")
	}
	S := m.EncoderImage()
	dino := m.Dino.Forward(b, img, B, S, S)
	res := m.Residual.Forward(b, img, B)
	dv, err := b.Read(dino)
	if err != nil {
		return nil, err
	}
	rv, err := b.Read(res)
	if err != nil {
		return nil, err
	}
	b.Free(dino, res)
	Cd, Cr := m.Dino.Cfg.Dim, m.Residual.Cfg.OutDim
	AlignResidual(rv, dv, Cr, Cd)
	T := len(dv) / (B * Cd)
	lat := make([]float32, 0, B*T*(Cd+Cr))
	for r := range B * T {
		lat = append(lat, dv[r*Cd:(r+1)*Cd]...)
		lat = append(lat, rv[r*Cr:(r+1)*Cr]...)
	}
	if err := m.normalise(b, lat, Cd+Cr); err != nil {
		return nil, err
	}
	return b.Upload(lat, B, T, Cd+Cr), nil
}

// AlignResidual rescales residual features r [N,Cr] to the scalar
// statistics of the DINO features d [N,Cd] (official match_distribution):
// m = mean over channels of the per-channel means, s = mean over channels
// of the per-channel unbiased stds; r' = (r − m_r)/(s_r + 1e-6)·s_d + m_d.
func AlignResidual(r, d []float32, Cr, Cd int) {
	mr, sr := channelStats(r, Cr)
	md, sd := channelStats(d, Cd)
	for i, v := range r {
		r[i] = float32((float64(v)-mr)/(sr+1e-6)*sd + md)
	}
}

func channelStats(x []float32, C int) (mean, std float64) {
	N := len(x) / C
	for c := range C {
		var s, ss float64
		for n := range N {
			s += float64(x[n*C+c])
		}
		mu := s / float64(N)
		for n := range N {
			d := float64(x[n*C+c]) - mu
			ss += d * d
		}
		mean += mu
		if N > 1 {
			std += math.Sqrt(ss / float64(N-1))
		}
	}
	return mean / float64(C), std / float64(C)
}
