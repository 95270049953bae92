package model

// The DiT denoiser with patch size 1 (SVG §3.3; official models/dit.py in
// github.com/shiml20/SVG, itself DiT, Peebles & Xie 2023): adaLN-Zero blocks
// over the 256 latent tokens, conditioned on flow time and class.

import (
	"fmt"
	"math"
)

// DiTConfig sizes a DiT. SVG-XL values in comments.
type DiTConfig struct {
	InChannels int     // 392: latent channels (DINO 384 + residual 8)
	Grid       int     // 16: tokens form a Grid×Grid map
	Hidden     int     // 1152
	Depth      int     // 28
	Heads      int     // 16 (head dim 72)
	MLPRatio   float64 // 4
	NumClasses int     // 1000; row NumClasses of the table is the null class
	QKNorm     bool    // per-head LayerNorm on q and k
	LearnSigma bool    // true: the final layer outputs 2·InChannels, first half used
}

// Presets from the paper (Table 8).
var (
	SVGXL = DiTConfig{InChannels: 392, Grid: 16, Hidden: 1152, Depth: 28, Heads: 16, MLPRatio: 4, NumClasses: 1000, QKNorm: true, LearnSigma: true}
	SVGL  = DiTConfig{InChannels: 392, Grid: 16, Hidden: 1024, Depth: 24, Heads: 16, MLPRatio: 4, NumClasses: 1000, QKNorm: true, LearnSigma: true}
	SVGB  = DiTConfig{InChannels: 392, Grid: 16, Hidden: 768, Depth: 12, Heads: 12, MLPRatio: 4, NumClasses: 1000, QKNorm: true, LearnSigma: true}
)

func (c DiTConfig) tokens() int  { return c.Grid * c.Grid }
func (c DiTConfig) mlp() int     { return int(float64(c.Hidden) * c.MLPRatio) }
func (c DiTConfig) headDim() int { return c.Hidden / c.Heads }
func (c DiTConfig) outChans() int {
	if c.LearnSigma {
		return 2 * c.InChannels
	}
	return c.InChannels
}

// Validate reports a config the kernels cannot run.
func (c DiTConfig) Validate() error {
	switch {
	case c.InChannels <= 0 || c.Grid <= 0 || c.Hidden <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.NumClasses <= 0:
		return fmt.Errorf("dit config: sizes must be positive: %+v", c)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("dit config: hidden %d not divisible by %d heads", c.Hidden, c.Heads)
	case c.Hidden%4 != 0:
		return fmt.Errorf("dit config: hidden %d must be divisible by 4 (2-D sin-cos position embedding)", c.Hidden)
	}
	return nil
}

type ditBlock struct {
	Norm1, Norm2 struct{} // LayerNorm without affine (eps 1e-6): no params
	QKV          Weight
	QKVBias      Tensor
	QNormW       Tensor
	QNormB       Tensor
	KNormW       Tensor
	KNormB       Tensor
	Proj         Weight
	ProjBias     Tensor
	FC1          Weight
	FC1Bias      Tensor
	FC2          Weight
	FC2Bias      Tensor
	AdaLN        Weight // adaLN_modulation.1: Hidden → 6·Hidden
	AdaLNBias    Tensor
}

// DiT holds the weights; names mirror the official module tree.
type DiT struct {
	Cfg DiTConfig

	XEmbed     Weight // ln1: the input Linear InChannels → Hidden (SVG's key name)
	XEmbedBias Tensor
	PosEmbed   Tensor // pos_embed [1,T,Hidden], fixed sin-cos
	TMLP0      Weight // t_embedder.mlp.0: 256 → Hidden
	TMLP0Bias  Tensor
	TMLP2      Weight // t_embedder.mlp.2: Hidden → Hidden
	TMLP2Bias  Tensor
	YTable     Tensor // y_embedder.embedding_table [NumClasses+1, Hidden]
	Blocks     []ditBlock
	FinalAda   Weight // final_layer.adaLN_modulation.1: Hidden → 2·Hidden
	FinalAdaB  Tensor
	FinalLin   Weight // final_layer.linear: Hidden → out
	FinalLinB  Tensor

	// Ada is every block's adaLN_modulation.1 and then the final layer's,
	// stacked by LoadDiT into as few Linears as fit one binding (one for
	// SVG-XL in f32 on a GPU binding 1 GiB): the conditioning is the same
	// for every block, so a step computes all modulations with one matmul
	// instead of Depth+1 matmuls of two rows. The per-block fields are nil
	// then. Empty: the per-block weights are used.
	Ada []Fused
}

// FreqDim is the size of the sinusoidal time features.
const FreqDim = 256

// Params lists the DiT's tensors with their official keys.
func (m *DiT) Params() []Param {
	c := m.Cfg
	H := c.Hidden
	if len(m.Blocks) != c.Depth {
		m.Blocks = make([]ditBlock, c.Depth)
	}
	var ps []Param
	linearP(&ps, "ln1", &m.XEmbed, &m.XEmbedBias, H, c.InChannels)
	ps = append(ps, Param{Name: "pos_embed", Shape: []int{1, c.tokens(), H}, T: &m.PosEmbed, Optional: true})
	linearP(&ps, "t_embedder.mlp.0", &m.TMLP0, &m.TMLP0Bias, H, FreqDim)
	linearP(&ps, "t_embedder.mlp.2", &m.TMLP2, &m.TMLP2Bias, H, H)
	tensorP(&ps, "y_embedder.embedding_table.weight", &m.YTable, c.NumClasses+1, H)
	for i := range m.Blocks {
		b := &m.Blocks[i]
		p := fmt.Sprintf("blocks.%d.", i)
		linearP(&ps, p+"attn.qkv", &b.QKV, &b.QKVBias, 3*H, H)
		if c.QKNorm {
			normP(&ps, p+"attn.q_norm", &b.QNormW, &b.QNormB, c.headDim())
			normP(&ps, p+"attn.k_norm", &b.KNormW, &b.KNormB, c.headDim())
		}
		linearP(&ps, p+"attn.proj", &b.Proj, &b.ProjBias, H, H)
		linearP(&ps, p+"mlp.fc1", &b.FC1, &b.FC1Bias, c.mlp(), H)
		linearP(&ps, p+"mlp.fc2", &b.FC2, &b.FC2Bias, H, c.mlp())
		linearP(&ps, p+"adaLN_modulation.1", &b.AdaLN, &b.AdaLNBias, 6*H, H)
	}
	linearP(&ps, "final_layer.adaLN_modulation.1", &m.FinalAda, &m.FinalAdaB, 2*H, H)
	linearP(&ps, "final_layer.linear", &m.FinalLin, &m.FinalLinB, c.outChans(), H)
	// With learn_sigma only the first InChannels outputs (the velocity)
	// are used: load just those rows and never compute the rest.
	ps[len(ps)-2].KeepRows = c.InChannels
	ps[len(ps)-1].KeepRows = c.InChannels
	return ps
}

// LoadDiT builds a DiT from src on b.
func LoadDiT(b Backend, src Source, prefix string, cfg DiTConfig) (*DiT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &DiT{Cfg: cfg}
	if err := Load(b, src, prefix, m.Params()); err != nil {
		return nil, err
	}
	if m.PosEmbed == nil {
		m.PosEmbed = b.Upload(PosEmbed2D(cfg.Hidden, cfg.Grid), 1, cfg.tokens(), cfg.Hidden)
	}
	ada, err := b.FuseLinears(m.adaLinears())
	if err != nil {
		return nil, err
	}
	m.Ada = ada
	for i := range m.Blocks {
		m.Blocks[i].AdaLN, m.Blocks[i].AdaLNBias = nil, nil
	}
	m.FinalAda, m.FinalAdaB = nil, nil
	return m, nil
}

// adaLinears lists the adaLN Linears in the order Ada stacks them.
func (m *DiT) adaLinears() ([]Weight, []Tensor) {
	var ws []Weight
	var bs []Tensor
	for i := range m.Blocks {
		ws = append(ws, m.Blocks[i].AdaLN)
		bs = append(bs, m.Blocks[i].AdaLNBias)
	}
	return append(ws, m.FinalAda), append(bs, m.FinalAdaB)
}

// modulations computes every adaLN output of a step from the conditioning
// and returns, for block i (and i = Depth for the final layer), the tensor
// [B, chunks·Hidden] that holds its chunks and the index of its first chunk
// (shift_msa; the final layer's shift). Free the tensors when done.
func (m *DiT) modulations(b Backend, cond Cond) (mods []Tensor, at []adaRef) {
	H := m.Cfg.Hidden
	groups := m.Ada
	if len(groups) == 0 {
		ws, bs := m.adaLinears()
		for i := range ws {
			groups = append(groups, Fused{W: ws[i], B: bs[i], Count: 1})
		}
	}
	for _, g := range groups {
		rows := g.W.Dims()[0]
		mod := b.Alloc(cond.B, rows)
		b.Linear(mod, cond.SiLUC, g.W, g.B, Epilogue{})
		for k := range g.Count {
			at = append(at, adaRef{mod: len(mods), chunks: rows / H, first: 6 * k})
		}
		mods = append(mods, mod)
	}
	return mods, at
}

// adaRef locates one Linear's output inside a stacked modulation: chunk
// first+j of mods[mod], a tensor of chunks·Hidden values per row.
type adaRef struct{ mod, chunks, first int }

// PosEmbed2D is the fixed 2-D sin-cos embedding [Grid·Grid, D]: the first
// half of the channels encodes the column, the second the row; each half is
// [sin | cos] of pos·ω_k, ω_k = 10000^(−k/(D/4)) (MAE / DiT convention).
func PosEmbed2D(D, grid int) []float32 {
	out := make([]float32, grid*grid*D)
	q := D / 4
	for r := range grid {
		for col := range grid {
			row := out[(r*grid+col)*D:]
			for half, pos := range []int{col, r} {
				for k := range q {
					w := 1 / math.Pow(10000, float64(k)/float64(q))
					a := float64(pos) * w
					row[half*D/2+k] = float32(math.Sin(a))
					row[half*D/2+q+k] = float32(math.Cos(a))
				}
			}
		}
	}
	return out
}

// Cond is the per-step conditioning: SiLU(c) for every adaLN Linear, with
// c = t_emb(t) + y_emb(y). It depends only on (t, class), so it is computed
// once per step and shared by all blocks.
type Cond struct {
	SiLUC Tensor // [B, Hidden]
	B     int
}

// Condition computes SiLU(t_emb(t) + y_emb(y)) for a batch. t is raw flow
// time in [0,1]; y holds class ids (NumClasses = null class).
func (m *DiT) Condition(b Backend, t []float32, y []int) (Cond, error) {
	if len(y) != len(t) {
		return Cond{}, fmt.Errorf("dit: %d times for %d labels", len(t), len(y))
	}
	tt := b.Upload(t, len(t))
	defer b.Free(tt)
	return m.ConditionT(b, tt, y)
}

// ConditionT is Condition with the times already on the backend ([B]):
// uploading inside a step would split its command buffer.
func (m *DiT) ConditionT(b Backend, tt Tensor, y []int) (Cond, error) {
	B, H := len(y), m.Cfg.Hidden
	freq := b.Alloc(B, FreqDim)
	b.TimeEmbed(freq, tt, FreqDim, 10000)
	h := b.Alloc(B, H)
	b.Linear(h, freq, m.TMLP0, m.TMLP0Bias, Epilogue{Act: ActSiLU})
	c := b.Alloc(B, H)
	b.Linear(c, h, m.TMLP2, m.TMLP2Bias, Epilogue{})
	ye := b.Alloc(B, H)
	for i, cls := range y {
		if cls < 0 || cls > m.Cfg.NumClasses {
			return Cond{}, fmt.Errorf("dit: class %d out of range 0..%d", cls, m.Cfg.NumClasses)
		}
		b.CopyRegion(ye, i*H, m.YTable, cls*H, H)
	}
	b.Add(c, c, ye)
	b.SiLU(c, c)
	b.Free(freq, h, ye)
	return Cond{SiLUC: c, B: B}, nil
}

// Forward predicts the velocity: x [B,T,InChannels] → out [B,T,InChannels]
// (the learn-sigma half is dropped).
func (m *DiT) Forward(b Backend, out, x Tensor, cond Cond) {
	c := m.Cfg
	B, T, H, NH, HD := cond.B, c.tokens(), c.Hidden, c.Heads, c.headDim()
	const eps = 1e-6
	h := b.Alloc(B, T, H)
	b.Linear(h, x, m.XEmbed, m.XEmbedBias, Epilogue{})
	b.AddRows(h, m.PosEmbed, T*H) // pos_embed broadcasts over the batch

	mods, at := m.modulations(b, cond)
	n := b.Alloc(B, T, H)
	qkv := b.Alloc(B, T, 3*H)
	att := b.Alloc(B, T, H)
	mlp := b.Alloc(B, T, c.mlp())
	for i := range m.Blocks {
		blk := &m.Blocks[i]
		// shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = adaLN(c).chunk(6):
		// chunks a.first … a.first+5 of mod (all computed at the start)
		a := at[i]
		mod, nc, c0 := mods[a.mod], a.chunks, a.first
		gate := func(j int) Epilogue {
			return Epilogue{Gate: mod, GateOff: (c0 + j) * H, GateStride: nc * H, GateRows: B, Accumulate: true}
		}
		// x = x + gate_msa · attn(modulate(norm1(x), shift_msa, scale_msa))
		b.LayerNormModulate(n, h, mod, H, T, nc, c0, c0+1, eps)
		b.Linear(qkv, n, blk.QKV, blk.QKVBias, Epilogue{})
		if c.QKNorm {
			b.HeadNorm(qkv, blk.QNormW, blk.QNormB, B, T, NH, HD, 0, 1e-5)
			b.HeadNorm(qkv, blk.KNormW, blk.KNormB, B, T, NH, HD, 1, 1e-5)
		}
		b.Attention(att, qkv, B, T, NH, HD, float32(1/math.Sqrt(float64(HD))))
		b.Linear(h, att, blk.Proj, blk.ProjBias, gate(2))
		// x = x + gate_mlp · mlp(modulate(norm2(x), shift_mlp, scale_mlp))
		b.LayerNormModulate(n, h, mod, H, T, nc, c0+3, c0+4, eps)
		b.Linear(mlp, n, blk.FC1, blk.FC1Bias, Epilogue{Act: ActGELUTanh})
		b.Linear(h, mlp, blk.FC2, blk.FC2Bias, gate(5))
	}
	// final layer: shift, scale = adaLN(c).chunk(2); linear(modulate(norm(x)))
	a := at[len(m.Blocks)]
	b.LayerNormModulate(n, h, mods[a.mod], H, T, a.chunks, a.first, a.first+1, eps)
	b.Linear(out, n, m.FinalLin, m.FinalLinB, Epilogue{}) // velocity rows only (KeepRows)
	b.Free(h, n, qkv, att, mlp)
	b.Free(mods...)
}
