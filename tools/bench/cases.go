//go:build !js

package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/x448/float16"

	"novae/shaders"
)

// bench is one line of the table: a kernel at one shape.
type bench struct {
	Kernel string  // matmul_f32, attention, …
	Shape  string  // M=512 K=1152 N=3456, …
	Note   string  // where SVG-XL runs it, and what is fused
	FLOP   float64 // per run
	Bytes  float64 // per run: the least a kernel must read and write
	Mem    bool    // memory-bound: the table shows GB/s, not GFLOP/s
	// Matmul shape and weight (matmul lines: the note shows the plan
	// PlanMatMul makes; -kernel tune looks its table up by them).
	M, N, K int
	WKind   shaders.WKind
	Group   int
	Acc     bool
	// Variant is the matmul ladder name the line runs under ("" or "auto":
	// PlanMatMul's choice); -kernel expands lines into one per variant.
	Variant string
	Net     bool // a whole-network line: TFLOP/s, dispatches per run
	Steps   int  // sampler steps in one run (dispatches are also shown per step)
	// setup uploads random inputs and returns one run (recording only) and
	// what releases the tensors.
	setup func(e *shaders.Engine, rng *rand.Rand) (run func(), free func())
}

// pick is the full (SVG-XL) or the shrunk (-small) size.
func pick(small bool, full, shrunk int) int {
	if small {
		return shrunk
	}
	return full
}

// cases lists every line, at SVG-XL's shapes or, with small, at shapes a CPU
// adapter runs in about a second each (kernel paths kept: head dims, groups
// and int4's group 64 are the real ones).
func cases(small bool) []bench {
	var bs []bench
	// DiT-XL linears at M = CFG batch 2 × 256 tokens; the adaLN at M = 2.
	M := pick(small, 512, 64)
	type lin struct {
		role    string
		M, K, N int
		ep      string
	}
	lins := []lin{
		{"qkv", M, pick(small, 1152, 576), pick(small, 3456, 864), "bias"},
		{"proj", M, pick(small, 1152, 576), pick(small, 1152, 288), "bias, gate, +="},
		{"fc1", M, pick(small, 1152, 576), pick(small, 4608, 1152), "bias, gelu_tanh"},
		{"fc2", M, pick(small, 4608, 1152), pick(small, 1152, 288), "bias, gate, +="},
		{"adaLN", 2, pick(small, 1152, 576), pick(small, 6912, 1728), "bias"},
		{"adaLN_all", 2, pick(small, 1152, 576), pick(small, 28*6912+2304, 4*1728+1152), "bias"}, // every block's + the final's, stacked (model.DiT.Ada)
		{"x_embed", M, pick(small, 392, 72), pick(small, 1152, 576), "bias"},
		{"final", M, pick(small, 1152, 576), pick(small, 392, 72), "bias"},
		{"t_mlp2", 2, pick(small, 1152, 576), pick(small, 1152, 576), "bias"},
		{"final_adaLN", 2, pick(small, 1152, 576), pick(small, 2304, 1152), "bias"},
	}
	for _, kind := range []shaders.WKind{shaders.WF32, shaders.WF16, shaders.WInt8, shaders.WInt4} {
		for _, l := range lins {
			bs = append(bs, matmul(kind, l.role, l.M, l.K, l.N, l.ep))
		}
	}
	// Attention: the DiT (16 heads of 72 over 256 tokens, CFG batch 2),
	// DINOv3-S+ (6 heads of 64 over 256 patches + cls + 4 registers), and the
	// decoder's mid-block AttnBlock (one head of 512 channels over 16×16).
	bs = append(bs,
		attention("DiT self-attention, packed qkv", 2, pick(small, 16, 4), pick(small, 256, 64), 72, false),
		attention("DiT self-attention, packed qkv", 2, pick(small, 16, 4), pick(small, 256, 64), 72, false, "kernel=attention", "split=1"),
		attention("DINO self-attention, packed qkv", 1, 6, pick(small, 261, 65), 64, false),
		attention("DINO self-attention, packed qkv", 1, 6, pick(small, 261, 65), 64, false, "kernel=attention", "split=1"),
		attention("decoder AttnBlock, NCHW views", 1, 1, pick(small, 256, 64), 512, true),
		attention("decoder AttnBlock, NCHW views", 1, 1, pick(small, 256, 64), 512, true, "split=1"),
	)
	// Decoder 3×3 convolutions (bias, padding 1).
	bs = append(bs,
		conv(pick(small, 256, 64), pick(small, 64, 16), "decoder up block"),
		conv(pick(small, 256, 64), pick(small, 64, 16), "decoder up block", "convkernel=conv"),
		conv(pick(small, 128, 32), pick(small, 256, 32), "decoder last up block"),
		conv(pick(small, 128, 32), pick(small, 256, 32), "decoder last up block", "convkernel=conv"),
		conv(pick(small, 512, 128), pick(small, 16, 8), "decoder mid block"),
		conv(pick(small, 512, 128), pick(small, 16, 8), "decoder mid block", "convsplit=1", "convkernel=conv"),
		conv(pick(small, 512, 128), pick(small, 32, 16), "decoder level-4 upsample conv"),
	)
	// GroupNorm: split over many workgroups per group above 4096 values
	// (shaders.GroupNormChunk), one workgroup per group at the mid block.
	bs = append(bs,
		groupNorm(pick(small, 128, 32), pick(small, 256, 128)),
		groupNorm(pick(small, 256, 64), pick(small, 64, 32)),
		groupNorm(pick(small, 512, 128), pick(small, 16, 8)),
		layerNorm(pick(small, 512, 64), 1152),
		add(pick(small, 16<<20, 1<<20), "elementwise_add", ""),
		add(256, "dispatch_tiny", "one 256-thread workgroup: the cost of a dispatch"),
	)
	return bs
}

func randn(rng *rand.Rand, n int, std float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64()) * std
	}
	return v
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func releaser(ts ...*shaders.Tensor) func() {
	return func() {
		for _, t := range ts {
			if t != nil {
				t.Release()
			}
		}
	}
}

// int4Group is the scale group novae convert uses for K input columns:
// 64, or the largest divisor of K below it (392 → 56).
func int4Group(K int) int {
	for g := min(64, K); g > 1; g-- {
		if K%g == 0 {
			return g
		}
	}
	return 1
}

// matmul is Y[M,N] = epilogue(X[M,K]·Wᵀ) with W [N,K] stored as kind
// (int8: one scale per row; int4: one per int4Group(K) columns).
func matmul(kind shaders.WKind, role string, M, K, N int, ep string) bench {
	var wBytes float64
	switch kind {
	case shaders.WF32:
		wBytes = 4 * float64(N*K)
	case shaders.WF16:
		wBytes = 2 * float64(N*K)
	case shaders.WInt8:
		wBytes = float64(N*K) + 4*float64(N)
	case shaders.WInt4:
		wBytes = float64(N*K)/2 + 4*float64(N*K/int4Group(K))
	}
	gated := ep == "bias, gate, +="
	b := bench{
		Kernel: "matmul_" + kind.String(),
		Shape:  fmt.Sprintf("M=%d K=%d N=%d", M, K, N),
		Note:   role + " (" + ep + ")",
		FLOP:   2 * float64(M) * float64(K) * float64(N),
		Bytes:  wBytes + 4*float64(M*K+M*N+N),
		Mem:    M <= 8, // the adaLN: a weight stream
		M:      M, N: N, K: K, WKind: kind, Acc: ep == "bias, gate, +=",
	}
	if kind == shaders.WInt4 {
		b.Group = int4Group(K)
	}
	if gated {
		b.Bytes += 4 * float64(M*N) // the accumulated Y is read too
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		w := shaders.Weight{Kind: kind, N: N, K: K}
		switch kind {
		case shaders.WF32:
			w.W = e.Upload(randn(rng, N*K, 0.02), N, K)
		case shaders.WF16:
			raw := make([]byte, 2*N*K)
			for i := range N * K {
				h := float16.Fromfloat32(float32(rng.NormFloat64()) * 0.02).Bits()
				raw[2*i], raw[2*i+1] = byte(h), byte(h>>8)
			}
			w.W = e.UploadRaw(shaders.F16, raw, N, K)
		case shaders.WInt8:
			w.W = e.UploadRaw(shaders.I8, randBytes(rng, N*K), N, K)
			w.Scales = e.Upload(randn(rng, N, 0.001), N)
		case shaders.WInt4:
			w.Group = int4Group(K)
			w.W = e.UploadRaw(shaders.U8, randBytes(rng, N*K/2), N, K/2)
			w.Scales = e.Upload(randn(rng, N*K/w.Group, 0.01), N*K/w.Group)
		}
		x := e.Upload(randn(rng, M*K, 1), M, K)
		y := e.Upload(make([]float32, M*N), M, N)
		p := shaders.Epilogue{Bias: e.Upload(randn(rng, N, 0.1), N)}
		if role == "fc1" {
			p.Act = shaders.ActGELUTanh
		}
		if gated { // gate_msa/gate_mlp: a chunk of the [2, 6·N] adaLN output
			p.Gate = e.Upload(randn(rng, 2*6*N, 0.1), 2, 6*N)
			p.GateOff, p.GateStride, p.GateRows = 2*N, 6*N, 2
			p.Accumulate = true
		}
		run := func() { e.MatMul(y, x, w, p) }
		return run, releaser(w.W, w.Scales, x, y, p.Bias, p.Gate)
	}
	return b
}

// attention is softmax(q·kᵀ/√HD)·v for B×NH heads over T tokens: from a
// packed qkv [B,T,3·NH·HD] into tokens [B,T,NH·HD], or (nchw) through
// channel-major views of [B,NH·HD,T] tensors.
// force, if set, runs it as "kernel=NAME" (Engine.AttnKernel) or "split=S"
// (Engine.AttnSplit) instead of the plan: the before of a planned change.
func attention(note string, B, NH, T, HD int, nchw bool, force ...string) bench {
	name := "attention"
	if nchw {
		name = "attention_nchw"
	}
	b := bench{
		Kernel: name,
		Shape:  fmt.Sprintf("B=%d NH=%d T=%d HD=%d", B, NH, T, HD),
		Note:   note,
		FLOP:   4 * float64(B*NH) * float64(T) * float64(T) * float64(HD),
		Bytes:  4 * 4 * float64(B*NH*T*HD),
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		scale := float32(1 / math.Sqrt(float64(HD)))
		n := B * NH * T * HD
		with := forcing(e, force)
		if nchw {
			q := e.Upload(randn(rng, n, 1), B, NH*HD, T)
			k := e.Upload(randn(rng, n, 1), B, NH*HD, T)
			v := e.Upload(randn(rng, n, 1), B, NH*HD, T)
			o := e.Upload(make([]float32, n), B, NH*HD, T)
			view := func(t *shaders.Tensor) shaders.View { return shaders.ChannelsView(t, NH, HD, T) }
			run := func() { with(func() { e.Attention(view(o), view(q), view(k), view(v), B, T, NH, HD, scale) }) }
			return run, releaser(q, k, v, o)
		}
		qkv := e.Upload(randn(rng, 3*n, 1), B, T, 3*NH*HD)
		o := e.Upload(make([]float32, n), B, T, NH*HD)
		q, k, v := shaders.QKVViews(qkv, T, NH, HD)
		ov := shaders.TokensView(o, T, NH, HD)
		run := func() { with(func() { e.Attention(ov, q, k, v, B, T, NH, HD, scale) }) }
		return run, releaser(qkv, o)
	}
	if len(force) > 0 {
		b.Note += " [" + strings.Join(force, ",") + "]"
	}
	return b
}

// forcing returns a wrapper that runs f with the engine's attention and
// convolution choices overridden as force says ("kernel=NAME", "split=S",
// "convsplit=S", "convkernel=NAME"), restoring them after.
func forcing(e *shaders.Engine, force []string) func(f func()) {
	return func(f func()) {
		ak, as, cs, ck := e.AttnKernel, e.AttnSplit, e.ConvSplit, e.ConvKernel
		for _, kv := range force {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "kernel":
				e.AttnKernel = v
			case "split":
				e.AttnSplit = n
			case "convsplit":
				e.ConvSplit = n
			case "convkernel":
				e.ConvKernel = v
			}
		}
		f()
		e.AttnKernel, e.AttnSplit, e.ConvSplit, e.ConvKernel = ak, as, cs, ck
	}
}

// conv is a 3×3, stride 1, padding 1 convolution C→C with bias on one
// side×side image.
func conv(C, side int, note string, force ...string) bench {
	hw := side * side
	b := bench{
		Kernel: "conv3x3",
		Shape:  fmt.Sprintf("B=1 C=%d→%d H=W=%d", C, C, side),
		Note:   note,
		FLOP:   2 * float64(C) * float64(C) * 9 * float64(hw),
		Bytes:  4 * (2*float64(C*hw) + float64(C*C*9+C)),
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		x := e.Upload(randn(rng, C*hw, 1), 1, C, side, side)
		w := e.Upload(randn(rng, C*C*9, 0.02), C, C, 3, 3)
		bias := e.Upload(randn(rng, C, 0.1), C)
		y := e.Upload(make([]float32, C*hw), 1, C, side, side)
		with := forcing(e, force)
		run := func() { with(func() { e.Conv2D(y, x, w, bias, 1, C, side, side, C, 3, 1, 1, shaders.ConvOpts{}) }) }
		return run, releaser(x, w, bias, y)
	}
	if len(force) > 0 {
		b.Note += " [" + strings.Join(force, ",") + "]"
	}
	return b
}

// groupNorm is the decoder's Normalize + swish: 32 groups, affine.
func groupNorm(C, side int) bench {
	n := C * side * side
	b := bench{
		Kernel: "groupnorm",
		Shape:  fmt.Sprintf("B=1 C=%d H=W=%d G=32", C, side),
		Note:   "decoder Normalize + swish",
		Bytes:  4 * 2 * float64(n),
		FLOP:   8 * float64(n),
		Mem:    true,
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		x := e.Upload(randn(rng, n, 1), 1, C, side, side)
		y := e.Upload(make([]float32, n), 1, C, side, side)
		g, be := e.Upload(randn(rng, C, 1), C), e.Upload(randn(rng, C, 0.1), C)
		run := func() { e.GroupNorm(y, x, g, be, C, side*side, 32, 1e-6, true) }
		return run, releaser(x, y, g, be)
	}
	return b
}

// layerNorm is the DiT's norm1/norm2 (no affine) over rows of C.
func layerNorm(rows, C int) bench {
	n := rows * C
	b := bench{
		Kernel: "layernorm",
		Shape:  fmt.Sprintf("rows=%d C=%d", rows, C),
		Note:   "DiT norm, no affine",
		Bytes:  4 * 2 * float64(n),
		FLOP:   5 * float64(n),
		Mem:    true,
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		x := e.Upload(randn(rng, n, 1), rows, C)
		y := e.Upload(make([]float32, n), rows, C)
		run := func() { e.LayerNorm(y, x, nil, nil, C, 1e-6) }
		return run, releaser(x, y)
	}
	return b
}

// add is y = a + b over n floats.
func add(n int, name, note string) bench {
	b := bench{
		Kernel: name,
		Shape:  fmt.Sprintf("n=%d", n),
		Note:   note,
		Bytes:  4 * 3 * float64(n),
		FLOP:   float64(n),
		Mem:    true,
	}
	if n >= 1<<20 && n%(1<<20) == 0 {
		b.Shape = fmt.Sprintf("n=%dM", n>>20)
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		x, u := e.Upload(randn(rng, n, 1), n), e.Upload(randn(rng, n, 1), n)
		y := e.Upload(make([]float32, n), n)
		run := func() { e.Add(y, x, u) }
		return run, releaser(x, u, y)
	}
	return b
}
