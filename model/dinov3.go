package model

// DINOv3 ViT (Siméoni et al. 2025, github.com/facebookresearch/dinov3),
// SVG's frozen semantic encoder: ViT-S/16+ with 4 register ("storage")
// tokens, 2-D RoPE on the patch tokens, LayerScale and a SwiGLU FFN.

import (
	"fmt"
	"math"
)

// DinoConfig sizes a DINOv3 ViT. ViT-S/16+ values in comments.
type DinoConfig struct {
	Dim       int // 384
	Depth     int // 12
	Heads     int // 6 (head dim 64)
	FFN       int // 1536: SwiGLU hidden width
	Patch     int // 16
	Registers int // 4 storage tokens
	InChans   int // 3
}

// DinoS16Plus is SVG's encoder.
var DinoS16Plus = DinoConfig{Dim: 384, Depth: 12, Heads: 6, FFN: 1536, Patch: 16, Registers: 4, InChans: 3}

func (c DinoConfig) Validate() error {
	if c.Dim <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.FFN <= 0 || c.Patch <= 0 || c.InChans <= 0 || c.Registers < 0 {
		return fmt.Errorf("dino config: bad sizes %+v", c)
	}
	if c.Dim%c.Heads != 0 || (c.Dim/c.Heads)%4 != 0 {
		return fmt.Errorf("dino config: head dim %d/%d must be a multiple of 4 (2-D RoPE)", c.Dim, c.Heads)
	}
	return nil
}

type dinoBlock struct {
	Norm1         norm
	QKV           Weight
	QKVBias       Tensor
	Proj          Weight
	ProjBias      Tensor
	LS1           Tensor // ls1.gamma [Dim]
	Norm2         norm
	W1, W2, W3    Weight
	W1B, W2B, W3B Tensor
	LS2           Tensor
}

// Dino holds the weights with the official keys.
type Dino struct {
	Cfg       DinoConfig
	PatchW    Tensor // patch_embed.proj.weight [Dim,3,p,p]
	PatchB    Tensor
	ClsToken  Tensor // [1,1,Dim]
	Storage   Tensor // storage_tokens [1,R,Dim]
	MaskToken Tensor // mask_token: training only, loaded so keys match
	Periods   []float32
	periodsT  Tensor
	Blocks    []dinoBlock
	Norm      norm
}

// Params lists the tensors with their official keys.
func (m *Dino) Params() []Param {
	c := m.Cfg
	D := c.Dim
	if len(m.Blocks) != c.Depth { // Params may run on a loaded model: keep its weights
		m.Blocks = make([]dinoBlock, c.Depth)
	}
	var ps []Param
	tensorP(&ps, "patch_embed.proj.weight", &m.PatchW, D, c.InChans, c.Patch, c.Patch)
	tensorP(&ps, "patch_embed.proj.bias", &m.PatchB, D)
	tensorP(&ps, "cls_token", &m.ClsToken, 1, 1, D)
	if c.Registers > 0 {
		tensorP(&ps, "storage_tokens", &m.Storage, 1, c.Registers, D)
	}
	ps = append(ps, Param{Name: "mask_token", Shape: []int{1, D}, T: &m.MaskToken, Optional: true})
	tensorP(&ps, "rope_embed.periods", &m.periodsT, D/c.Heads/4)
	for i := range m.Blocks {
		b := &m.Blocks[i]
		p := fmt.Sprintf("blocks.%d.", i)
		normP(&ps, p+"norm1", &b.Norm1.W, &b.Norm1.B, D)
		linearP(&ps, p+"attn.qkv", &b.QKV, &b.QKVBias, 3*D, D)
		// The K third of the qkv bias is masked to zero (bias_mask).
		ps[len(ps)-1].Fix = func(v []float32) { clear(v[D : 2*D]) }
		linearP(&ps, p+"attn.proj", &b.Proj, &b.ProjBias, D, D)
		tensorP(&ps, p+"ls1.gamma", &b.LS1, D)
		normP(&ps, p+"norm2", &b.Norm2.W, &b.Norm2.B, D)
		linearP(&ps, p+"mlp.w1", &b.W1, &b.W1B, c.FFN, D)
		linearP(&ps, p+"mlp.w2", &b.W2, &b.W2B, c.FFN, D)
		linearP(&ps, p+"mlp.w3", &b.W3, &b.W3B, D, c.FFN)
		tensorP(&ps, p+"ls2.gamma", &b.LS2, D)
	}
	normP(&ps, "norm", &m.Norm.W, &m.Norm.B, D)
	return ps
}

// LoadDino builds the encoder from src on b.
func LoadDino(b Backend, src Source, prefix string, cfg DinoConfig) (*Dino, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Dino{Cfg: cfg}
	if err := Load(b, src, prefix, m.Params()); err != nil {
		return nil, err
	}
	p, err := b.Read(m.periodsT)
	if err != nil {
		return nil, err
	}
	m.Periods = p
	return m, nil
}

// DefaultPeriods are DINOv3's RoPE periods for a head dim: base^(2k/(HD/2))
// for k < HD/4 with base 100, i.e. 100^(k/16) for HD = 64.
func DefaultPeriods(hd int) []float32 {
	q := hd / 4
	p := make([]float32, q)
	for k := range p {
		p[k] = float32(math.Pow(100, 2*float64(k)/float64(hd/2)))
	}
	return p
}

// Forward encodes ImageNet-normalised images [B,3,H,W] into the final-norm
// patch tokens [B,(H/p)·(W/p),Dim] (x_norm_patchtokens).
func (m *Dino) Forward(b Backend, img Tensor, B, H, W int) Tensor {
	out, _ := m.forward(b, img, B, H, W, false)
	return out
}

// ForwardClass is Forward plus the final-norm class token [B,Dim]
// (x_norm_clstoken): the image-level feature DINO's linear probes read.
func (m *Dino) ForwardClass(b Backend, img Tensor, B, H, W int) (patches, cls Tensor) {
	return m.forward(b, img, B, H, W, true)
}

func (m *Dino) forward(b Backend, img Tensor, B, H, W int, withCls bool) (Tensor, Tensor) {
	c := m.Cfg
	D, NH := c.Dim, c.Heads
	HD := D / NH
	gh, gw := H/c.Patch, W/c.Patch
	Np := gh * gw
	pre := 1 + c.Registers
	T := pre + Np
	patches := b.Alloc(B, Np, D)
	b.PatchEmbed(patches, img, m.PatchW, m.PatchB, B, c.InChans, H, W, D, c.Patch)
	x := b.Alloc(B, T, D)
	for i := range B { // [cls, storage…, patches…]
		b.CopyRegion(x, i*T*D, m.ClsToken, 0, D)
		if c.Registers > 0 {
			b.CopyRegion(x, (i*T+1)*D, m.Storage, 0, c.Registers*D)
		}
		b.CopyRegion(x, (i*T+pre)*D, patches, i*Np*D, Np*D)
	}
	b.Free(patches)
	n := b.Alloc(B, T, D)
	qkv := b.Alloc(B, T, 3*D)
	att := b.Alloc(B, T, D)
	h1, h2 := b.Alloc(B, T, c.FFN), b.Alloc(B, T, c.FFN)
	scale := float32(1 / math.Sqrt(float64(HD)))
	for i := range m.Blocks {
		blk := &m.Blocks[i]
		// x = x + γ1 · proj(attn(rope(qkv(norm1(x)))))
		b.LayerNorm(n, x, blk.Norm1.W, blk.Norm1.B, D, 1e-5)
		b.Linear(qkv, n, blk.QKV, blk.QKVBias, Epilogue{})
		b.RoPE2D(qkv, B, T, NH, HD, pre, gh, gw, m.Periods)
		b.Attention(att, qkv, B, T, NH, HD, scale)
		b.Linear(x, att, blk.Proj, blk.ProjBias, Epilogue{Gate: blk.LS1, GateRows: 1, Accumulate: true})
		// x = x + γ2 · w3(silu(w1 n) ⊙ w2 n), n = norm2(x)
		b.LayerNorm(n, x, blk.Norm2.W, blk.Norm2.B, D, 1e-5)
		b.Linear(h1, n, blk.W1, blk.W1B, Epilogue{})
		b.Linear(h2, n, blk.W2, blk.W2B, Epilogue{})
		b.SwiGLU(h1, h1, h2)
		b.Linear(x, h1, blk.W3, blk.W3B, Epilogue{Gate: blk.LS2, GateRows: 1, Accumulate: true})
	}
	b.LayerNorm(n, x, m.Norm.W, m.Norm.B, D, 1e-5)
	out := b.Alloc(B, Np, D)
	for i := range B {
		b.CopyRegion(out, i*Np*D, n, (i*T+pre)*D, Np*D)
	}
	var cls Tensor
	if withCls {
		cls = b.Alloc(B, D)
		for i := range B {
			b.CopyRegion(cls, i*D, n, i*T*D, D)
		}
	}
	b.Free(x, n, qkv, att, h1, h2)
	return out, cls
}
