package model

import (
	"fmt"

	"novae/model/weights"
	"novae/shaders/ref"
)

// CPU runs the networks with the pure-Go reference kernels: the test oracle
// for whole networks and the fallback where WebGPU is missing.
type CPU struct{}

// cpuT is a CPU tensor.
type cpuT struct {
	shape []int
	data  []float32
}

func (t *cpuT) Dims() []int { return t.shape }

// cpuW is a Linear weight, dequantized to f32 (the reference path computes
// with exactly the values the GPU dequantizes on the fly).
type cpuW struct {
	n, k int
	w    []float32
}

func (w *cpuW) Dims() []int { return []int{w.n, w.k} }

func ct(t Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.(*cpuT).data
}

// Data returns a CPU tensor's values (no copy).
func (CPU) Data(t Tensor) []float32 { return ct(t) }

func (CPU) Name() string { return "cpu (pure Go)" }

func (CPU) Alloc(shape ...int) Tensor {
	return &cpuT{shape: append([]int(nil), shape...), data: make([]float32, numel(shape))}
}

func (CPU) Free(ts ...Tensor) {}

func (CPU) Upload(data []float32, shape ...int) Tensor {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("model: upload %d values as %v", len(data), shape))
	}
	return &cpuT{shape: append([]int(nil), shape...), data: append([]float32(nil), data...)}
}

func (CPU) UploadWeight(h HostWeight) Weight {
	w, err := h.Dequantize()
	if err != nil {
		panic(fmt.Sprintf("model: weight %s: %v", h.Name, err))
	}
	return &cpuW{n: h.Out, k: h.In, w: w}
}

// Dequantize returns h as f32 [Out,In]: the values the GPU computes with.
func (h HostWeight) Dequantize() ([]float32, error) {
	switch h.Kind {
	case "f32", "":
		return append([]float32(nil), h.F32...), nil
	case "f16":
		u := make([]uint16, len(h.Raw)/2)
		for i := range u {
			u[i] = uint16(h.Raw[2*i]) | uint16(h.Raw[2*i+1])<<8
		}
		return ref.DequantF16(u), nil
	case "int8":
		q := make([]int8, len(h.Raw))
		for i, b := range h.Raw {
			q[i] = int8(b)
		}
		return weights.DequantizeInt8(q, h.Scales, h.Out, h.In, h.Group)
	case "int4":
		return weights.DequantizeInt4(h.Raw, h.Scales, h.Out, h.In, h.Group)
	}
	return nil, fmt.Errorf("unknown kind %q", h.Kind)
}

func (CPU) Read(t Tensor) ([]float32, error) { return append([]float32(nil), ct(t)...), nil }
func (CPU) Flush() error                     { return nil }
func (CPU) CopyRegion(dst Tensor, dstOff int, src Tensor, srcOff, n int) {
	copy(ct(dst)[dstOff:dstOff+n], ct(src)[srcOff:srcOff+n])
}

func (CPU) Linear(y, x Tensor, w Weight, b Tensor, ep Epilogue) {
	cw := w.(*cpuW)
	M := len(ct(x)) / cw.k
	stride, rows := ep.GateStride, ep.GateRows
	if stride == 0 {
		stride = cw.n
	}
	if ep.Gate != nil && rows == 0 {
		rows = len(ct(ep.Gate)) / cw.n
	}
	if rows == 0 {
		rows = 1
	}
	ref.MatMulGate(ct(y), ct(x), cw.w, ct(b), ct(ep.Gate), ep.GateOff, stride, rows, M, cw.k, cw.n, int(ep.Act), ep.Accumulate)
}

// FuseLinears stacks them all: the reference has no binding limit.
func (CPU) FuseLinears(ws []Weight, bs []Tensor) ([]Fused, error) {
	var out []Fused
	for i := 0; i < len(ws); {
		w0 := ws[i].(*cpuW)
		f := &cpuW{n: 0, k: w0.k}
		var b []float32
		j := i
		for ; j < len(ws) && ws[j].(*cpuW).k == w0.k && (bs[j] == nil) == (bs[i] == nil); j++ {
			f.n += ws[j].(*cpuW).n
			f.w = append(f.w, ws[j].(*cpuW).w...)
			b = append(b, ct(bs[j])...)
		}
		var bt Tensor
		if bs[i] != nil {
			bt = &cpuT{shape: []int{f.n}, data: b}
		}
		out = append(out, Fused{W: f, B: bt, Count: j - i})
		i = j
	}
	return out, nil
}

func (CPU) LayerNorm(y, x, g, b Tensor, C int, eps float32) {
	ref.LayerNorm(ct(y), ct(x), ct(g), ct(b), C, eps)
}

func (CPU) LayerNormModulate(y, x, mod Tensor, C, rowsPerBatch, nChunks, shiftChunk, scaleChunk int, eps float32) {
	ref.LayerNormModulate(ct(y), ct(x), ref.Mod{Ada: ct(mod), Chunks: nChunks, Shift: shiftChunk, Scale: scaleChunk}, C, eps)
}

func (CPU) HeadNorm(qkv, g, b Tensor, B, T, NH, HD, which int, eps float32) {
	ref.HeadNorm(ct(qkv), ct(g), ct(b), NH, HD, which, eps)
}

func (CPU) RoPE2D(qkv Tensor, B, T, NH, HD, prefix, H, W int, periods []float32) {
	ref.RoPE2D(ct(qkv), ref.RoPETable(ref.RoPEAngles(H, W, f64(periods))), B, T, NH, HD, prefix)
}

func (CPU) Attention(out, qkv Tensor, B, T, NH, HD int, scale float32) {
	q, k, v := ref.QKVViews(ct(qkv), T, NH, HD)
	ref.Attention(ref.TokensView(ct(out), T, NH, HD), q, k, v, B, T, NH, HD, scale)
}

func (CPU) AttentionNCHW(out, q, k, v Tensor, B, C, HW int, scale float32) {
	view := func(t Tensor) ref.View { return ref.ChannelsView(ct(t), 1, C, HW) }
	ref.Attention(view(out), view(q), view(k), view(v), B, HW, 1, C, scale)
}

func (CPU) GroupNorm(y, x, g, b Tensor, B, C, HW, G int, eps float32, swish bool) {
	ref.GroupNorm(ct(y), ct(x), ct(g), ct(b), C, HW, G, eps, swish)
}

func (CPU) Conv2D(y, x, w, b Tensor, B, Cin, H, W, Cout, k, pad int, res Tensor) {
	ref.Conv2D(ct(y), ct(x), ct(w), ct(b), ct(res), B, Cin, H, W, Cout, k, 1, pad, false)
}

func (CPU) Downsample(y, x, w, b Tensor, B, C, H, W, Cout int) {
	ref.Downsample(ct(y), ct(x), ct(w), ct(b), B, C, H, W, Cout)
}

func (CPU) UpsampleConv(y, x, w, b Tensor, B, C, H, W, Cout int) {
	ref.Conv2D(ct(y), ct(x), ct(w), ct(b), nil, B, C, H, W, Cout, 3, 1, 1, true)
}

func (CPU) PatchEmbed(y, img, w, b Tensor, B, Cin, H, W, Cout, p int) {
	ref.PatchEmbed(ct(y), ct(img), ct(w), ct(b), B, Cin, H, W, Cout, p)
}

func (CPU) Upsample2x(y, x Tensor, B, C, H, W int) { ref.Upsample2x(ct(y), ct(x), B, C, H, W) }
func (CPU) Add(y, a, b Tensor)                     { ref.Add(ct(y), ct(a), ct(b)) }
func (CPU) SwiGLU(y, a, b Tensor)                  { ref.SwiGLU(ct(y), ct(a), ct(b)) }
func (CPU) SiLU(y, x Tensor)                       { ref.Swish(ct(y), ct(x)) }
func (CPU) AddRows(y, v Tensor, C int)             { ref.AddRowVector(ct(y), ct(y), ct(v), C) }
func (CPU) TimeEmbed(out, t Tensor, dim int, maxPeriod float32) {
	ref.TimestepEmbedding(ct(out), ct(t), dim, float64(maxPeriod))
}
func (CPU) TokensToNCHW(y, x Tensor, B, T, C int) { ref.Transpose(ct(y), ct(x), B, T, C) }
func (CPU) NCHWToTokens(y, x Tensor, B, C, T int) { ref.Transpose(ct(y), ct(x), B, C, T) }
func (CPU) Concat(y, a, b Tensor, rows, Ca, Cb int) {
	ref.ConcatChannels(ct(y), ct(a), ct(b), Ca, Cb)
}
func (CPU) Euler(z, v Tensor, dt float32) { ref.EulerStep(ct(z), ct(v), dt) }
func (CPU) Scale(x Tensor, a float32)     { ref.Scale(ct(x), ct(x), a) }
func (CPU) CFG(v, vc, vu Tensor, cu, cc float32) {
	if cu == 1-cc {
		ref.CFG(ct(v), ct(vc), ct(vu), cc)
		return
	}
	o, c, u := ct(v), ct(vc), ct(vu)
	for i := range o {
		o[i] = cu*u[i] + cc*c[i]
	}
}
func (CPU) Denormalize(y, x, mean, std Tensor, C int) {
	ref.Denormalize(ct(y), ct(x), ct(mean), ct(std), C)
}
func (CPU) ToRGBA8(img Tensor, B, H, W int) ([]byte, error) {
	out := make([]byte, B*H*W*4)
	ref.ToRGBA8(out, ct(img), B, H, W)
	return out, nil
}
