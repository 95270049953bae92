package model

// SVG's residual encoder: a torchvision VisionTransformer (vit_b_16 layout,
// smaller) whose tokens are projected to a few channels that carry the
// colour and detail DINO drops. Keys follow torchvision.

import (
	"fmt"
	"math"
)

// ResViTConfig sizes the residual ViT. SVG values in comments.
type ResViTConfig struct {
	Dim     int // 384
	Depth   int // 6
	Heads   int // 8 (head dim 48)
	MLP     int // 1536
	Patch   int // 16
	Image   int // 256: fixes the learned position table (257 rows)
	OutDim  int // 8 residual channels
	InChans int // 3
}

// SVGResidual is the official residual branch.
var SVGResidual = ResViTConfig{Dim: 384, Depth: 6, Heads: 8, MLP: 1536, Patch: 16, Image: 256, OutDim: 8, InChans: 3}

func (c ResViTConfig) Validate() error {
	if c.Dim <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.MLP <= 0 || c.Patch <= 0 || c.Image%c.Patch != 0 || c.OutDim <= 0 {
		return fmt.Errorf("residual vit config: bad sizes %+v", c)
	}
	if c.Dim%c.Heads != 0 {
		return fmt.Errorf("residual vit config: dim %d not divisible by %d heads", c.Dim, c.Heads)
	}
	return nil
}

func (c ResViTConfig) tokens() int { g := c.Image / c.Patch; return g*g + 1 }

type resViTLayer struct {
	LN1        norm
	InProj     Weight // self_attention.in_proj_weight [3D, D]
	InProjB    Tensor
	OutProj    Weight
	OutProjB   Tensor
	LN2        norm
	MLP0, MLP3 Weight
	MLP0B      Tensor
	MLP3B      Tensor
}

// ResViT holds the weights with torchvision's keys.
type ResViT struct {
	Cfg      ResViTConfig
	ConvW    Tensor // conv_proj
	ConvB    Tensor
	ClsToken Tensor // class_token [1,1,D]
	Pos      Tensor // encoder.pos_embedding [1,T+1,D]
	Layers   []resViTLayer
	LN       norm // encoder.ln
	Head0    Weight
	Head0B   Tensor
	Head2    Weight
	Head2B   Tensor
}

// Params lists the tensors with torchvision's keys.
func (m *ResViT) Params() []Param {
	c := m.Cfg
	D := c.Dim
	if len(m.Layers) != c.Depth { // Params may run on a loaded model: keep its weights
		m.Layers = make([]resViTLayer, c.Depth)
	}
	var ps []Param
	tensorP(&ps, "conv_proj.weight", &m.ConvW, D, c.InChans, c.Patch, c.Patch)
	tensorP(&ps, "conv_proj.bias", &m.ConvB, D)
	tensorP(&ps, "class_token", &m.ClsToken, 1, 1, D)
	tensorP(&ps, "encoder.pos_embedding", &m.Pos, 1, c.tokens(), D)
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("encoder.layers.encoder_layer_%d.", i)
		normP(&ps, p+"ln_1", &l.LN1.W, &l.LN1.B, D)
		ps = append(ps, Param{Name: p + "self_attention.in_proj_weight", Shape: []int{3 * D, D}, Linear: true, W: &l.InProj})
		tensorP(&ps, p+"self_attention.in_proj_bias", &l.InProjB, 3*D)
		linearP(&ps, p+"self_attention.out_proj", &l.OutProj, &l.OutProjB, D, D)
		normP(&ps, p+"ln_2", &l.LN2.W, &l.LN2.B, D)
		linearP(&ps, p+"mlp.0", &l.MLP0, &l.MLP0B, c.MLP, D)
		linearP(&ps, p+"mlp.3", &l.MLP3, &l.MLP3B, D, c.MLP)
	}
	normP(&ps, "encoder.ln", &m.LN.W, &m.LN.B, D)
	linearP(&ps, "heads.0", &m.Head0, &m.Head0B, D, D)
	linearP(&ps, "heads.2", &m.Head2, &m.Head2B, c.OutDim, D)
	return ps
}

// LoadResViT builds the residual encoder from src on b.
func LoadResViT(b Backend, src Source, prefix string, cfg ResViTConfig) (*ResViT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &ResViT{Cfg: cfg}
	if err := Load(b, src, prefix, m.Params()); err != nil {
		return nil, err
	}
	return m, nil
}

// Forward maps ImageNet-normalised images [B,3,Image,Image] to the raw
// residual features [B,Np,OutDim] (before distribution alignment).
func (m *ResViT) Forward(b Backend, img Tensor, B int) Tensor {
	c := m.Cfg
	D, NH := c.Dim, c.Heads
	HD := D / NH
	T := c.tokens()
	Np := T - 1
	patches := b.Alloc(B, Np, D)
	b.PatchEmbed(patches, img, m.ConvW, m.ConvB, B, c.InChans, c.Image, c.Image, D, c.Patch)
	x := b.Alloc(B, T, D)
	for i := range B { // [class, patches…] + pos_embedding
		b.CopyRegion(x, i*T*D, m.ClsToken, 0, D)
		b.CopyRegion(x, (i*T+1)*D, patches, i*Np*D, Np*D)
	}
	b.Free(patches)
	b.AddRows(x, m.Pos, T*D)
	n := b.Alloc(B, T, D)
	qkv := b.Alloc(B, T, 3*D)
	att := b.Alloc(B, T, D)
	h := b.Alloc(B, T, c.MLP)
	scale := float32(1 / math.Sqrt(float64(HD)))
	for i := range m.Layers {
		l := &m.Layers[i]
		// x = x + out_proj(MHA(ln_1(x)))
		b.LayerNorm(n, x, l.LN1.W, l.LN1.B, D, 1e-6)
		b.Linear(qkv, n, l.InProj, l.InProjB, Epilogue{})
		b.Attention(att, qkv, B, T, NH, HD, scale)
		b.Linear(x, att, l.OutProj, l.OutProjB, Epilogue{Accumulate: true})
		// x = x + mlp.3(gelu(mlp.0(ln_2(x))))
		b.LayerNorm(n, x, l.LN2.W, l.LN2.B, D, 1e-6)
		b.Linear(h, n, l.MLP0, l.MLP0B, Epilogue{Act: ActGELUErf})
		b.Linear(x, h, l.MLP3, l.MLP3B, Epilogue{Accumulate: true})
	}
	b.LayerNorm(n, x, m.LN.W, m.LN.B, D, 1e-6)
	tok := b.Alloc(B, Np, D) // drop the class token
	for i := range B {
		b.CopyRegion(tok, i*Np*D, n, (i*T+1)*D, Np*D)
	}
	hh := b.Alloc(B, Np, D)
	b.Linear(hh, tok, m.Head0, m.Head0B, Epilogue{Act: ActGELUErf})
	out := b.Alloc(B, Np, c.OutDim)
	b.Linear(out, hh, m.Head2, m.Head2B, Epilogue{})
	b.Free(x, n, qkv, att, h, tok, hh)
	return out
}
