package model

// Tensor is a backend's handle to an f32 tensor. Shapes are PyTorch's:
// tokens [B,T,C], images NCHW [B,C,H,W].
type Tensor interface{ Dims() []int }

// Weight is a Linear weight in PyTorch's [out,in] layout; a backend may keep
// it quantized.
type Weight interface{ Dims() []int }

// Act is a fused activation, numbered as the engine's.
type Act int

const (
	ActNone Act = iota
	ActGELUTanh
	ActGELUErf
	ActSiLU
)

// Epilogue is what Linear fuses after x·Wᵀ + b, in order: activation,
// × gate (a view: gate[GateOff + b·GateStride + n], b = row/(M/GateRows)),
// + y (Accumulate). It is how residual branches, LayerScale γ and the DiT's
// adaLN gates cost no extra pass.
type Epilogue struct {
	Act        Act
	Gate       Tensor
	GateOff    int
	GateStride int
	GateRows   int
	Accumulate bool
}

// Fused is Count consecutive Linears of one input stacked along their
// outputs: W [ΣN_i, K], B [ΣN_i] (nil when they had no bias).
type Fused struct {
	W     Weight
	B     Tensor
	Count int
}

// HostWeight is a weight as read from a file, before it goes to a backend:
// f32 data, or quantized data with scales (model/weights documents the
// convention).
type HostWeight struct {
	Name   string
	Out    int
	In     int
	Kind   string // "f32", "f16", "int8", "int4"
	Group  int
	F32    []float32 // kind f32
	Raw    []byte    // f16 (2 bytes each), int8 (1 each) or int4 (packed pairs)
	Scales []float32
}

// Backend is every op SVG's networks use. Ops record work; Read and Flush
// submit it. Implementations: the GPU engine (gpu.go) and the pure-Go
// reference (cpu.go). Argument order follows the engine: outputs first.
type Backend interface {
	Name() string

	Alloc(shape ...int) Tensor // scratch with undefined contents
	Free(ts ...Tensor)
	Upload(data []float32, shape ...int) Tensor
	UploadWeight(w HostWeight) Weight
	Read(t Tensor) ([]float32, error)
	Flush() error
	CopyRegion(dst Tensor, dstOff int, src Tensor, srcOff, n int)

	// Linear: y = epilogue(x·Wᵀ + b); b may be nil.
	Linear(y, x Tensor, w Weight, b Tensor, ep Epilogue)
	// FuseLinears stacks Linears that read one input (weights [N_i,K],
	// biases [N_i] or all nil), in order, into as few as fit one binding
	// each, so one Linear computes what they did; a weight of another kind,
	// group or K starts a new one. The stacked originals are freed.
	FuseLinears(ws []Weight, bs []Tensor) ([]Fused, error)
	// LayerNorm over the last dim C; g and b nil for no affine.
	LayerNorm(y, x, g, b Tensor, C int, eps float32)
	// LayerNormModulate: y = LN(x)·(1+scale)+shift with shift/scale chunks
	// of mod [B, nChunks·C] (the DiT's adaLN output).
	LayerNormModulate(y, x, mod Tensor, C, rowsPerBatch, nChunks, shiftChunk, scaleChunk int, eps float32)
	// HeadNorm: per-head LayerNorm over HD of the q (which=0) or k (which=1)
	// part of packed qkv [B,T,3·NH·HD], in place.
	HeadNorm(qkv, g, b Tensor, B, T, NH, HD, which int, eps float32)
	// RoPE2D rotates q and k of packed qkv in place for the patch tokens
	// (after `prefix` tokens) of an H×W grid with DINOv3's periods.
	RoPE2D(qkv Tensor, B, T, NH, HD, prefix, H, W int, periods []float32)
	// Attention over packed qkv [B,T,3·NH·HD] → out [B,T,NH·HD].
	Attention(out, qkv Tensor, B, T, NH, HD int, scale float32)
	// AttentionNCHW: one head over HW positions of C channels; q, k, v and
	// out are [B,C,HW] (the decoder's AttnBlock).
	AttentionNCHW(out, q, k, v Tensor, B, C, HW int, scale float32)
	// GroupNorm on NCHW x, optionally followed by swish.
	GroupNorm(y, x, g, b Tensor, B, C, HW, G int, eps float32, swish bool)
	// Conv2D NCHW with PyTorch weight [Cout,Cin,k,k], stride 1, padding
	// pad; if res is non-nil, y = conv(x) + res.
	Conv2D(y, x, w, b Tensor, B, Cin, H, W, Cout, k, pad int, res Tensor)
	// PatchEmbed: conv with kernel = stride = p, output token-major [B,T,Cout].
	PatchEmbed(y, img, w, b Tensor, B, Cin, H, W, Cout, p int)
	Upsample2x(y, x Tensor, B, C, H, W int)
	// UpsampleConv is conv3×3(nearest-upsample×2(x)), pad 1: the LDM
	// Upsample block; x is [B,C,H,W], y [B,Cout,2H,2W].
	UpsampleConv(y, x, w, b Tensor, B, C, H, W, Cout int)
	// Downsample is the LDM Downsample block: conv3×3 of stride 2 over
	// F.pad(x, (0,1,0,1)); x [B,C,H,W] (H, W even), y [B,Cout,H/2,W/2].
	Downsample(y, x, w, b Tensor, B, C, H, W, Cout int)

	Add(y, a, b Tensor)         // y = a + b (y may be a)
	SwiGLU(y, a, b Tensor)      // y = silu(a)·b
	SiLU(y, x Tensor)           // y = x·sigmoid(x) (y may be x)
	AddRows(y, v Tensor, C int) // y[.., c] += v[c], v is [C]
	// TimeEmbed: out [B,dim] = [cos(t·f), sin(t·f)], f_k = exp(−ln(maxPeriod)·k/(dim/2)).
	TimeEmbed(out, t Tensor, dim int, maxPeriod float32)
	TokensToNCHW(y, x Tensor, B, T, C int)
	NCHWToTokens(y, x Tensor, B, C, T int)
	Concat(y, a, b Tensor, rows, Ca, Cb int) // y[r] = [a[r] | b[r]]

	Euler(z, v Tensor, dt float32)                   // z += dt·v
	Scale(x Tensor, a float32)                       // x *= a
	CFG(v, vc, vu Tensor, cu, cc float32)            // v = cu·vu + cc·vc (plain CFG: cu = 1−w, cc = w)
	Denormalize(y, x, mean, std Tensor, C int)       // y = x·std + mean over the last dim
	ToRGBA8(img Tensor, B, H, W int) ([]byte, error) // [-1,1] NCHW → RGBA8, read back
}
