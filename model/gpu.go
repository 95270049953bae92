package model

import (
	"fmt"

	"novae/shaders"
	"novae/shaders/ref"
)

// GPU runs the networks on the WebGPU engine.
type GPU struct {
	E    *shaders.Engine
	rope map[string]*shaders.Tensor // cos/sin tables by grid and periods
}

// NewGPU wraps an engine.
func NewGPU(e *shaders.Engine) *GPU { return &GPU{E: e, rope: map[string]*shaders.Tensor{}} }

// gpuWeight keeps a Linear weight in its stored form.
type gpuWeight struct{ w shaders.Weight }

func (w gpuWeight) Dims() []int { return []int{w.w.N, w.w.K} }

func gt(t Tensor) *shaders.Tensor {
	if t == nil {
		return nil
	}
	return t.(*shaders.Tensor)
}

func (g *GPU) Name() string { return "webgpu: " + g.E.Adapter }

// DispatchCount is the engine's running dispatch count (model.DispatchCounter).
func (g *GPU) DispatchCount() int { return g.E.Dispatches }

func (g *GPU) Alloc(shape ...int) Tensor { return g.E.Empty(shaders.F32, shape...) }

func (g *GPU) Free(ts ...Tensor) {
	for _, t := range ts {
		if st := gt(t); st != nil {
			st.Release()
		}
	}
}

func (g *GPU) Upload(data []float32, shape ...int) Tensor { return g.E.Upload(data, shape...) }

func (g *GPU) UploadWeight(h HostWeight) Weight {
	w := shaders.Weight{N: h.Out, K: h.In, Group: h.Group}
	switch h.Kind {
	case "f32", "":
		w.Kind, w.W = shaders.WF32, g.E.Upload(h.F32, h.Out, h.In)
	case "f16":
		w.Kind, w.W = shaders.WF16, g.E.UploadRaw(shaders.F16, h.Raw, h.Out, h.In)
	case "int8":
		w.Kind, w.W = shaders.WInt8, g.E.UploadRaw(shaders.I8, h.Raw, h.Out, h.In)
	case "int4":
		w.Kind, w.W = shaders.WInt4, g.E.UploadRaw(shaders.U8, h.Raw, h.Out, h.In/2)
	default:
		panic(fmt.Sprintf("model: weight %s: unknown kind %q", h.Name, h.Kind))
	}
	if h.Scales != nil {
		w.Scales = g.E.Upload(h.Scales, len(h.Scales))
	}
	w.W.Name = h.Name
	return gpuWeight{w}
}

// WrapWeight makes a Weight of tensors already on the GPU (the browser
// streams them there).
func WrapWeight(w shaders.Weight) Weight { return gpuWeight{w} }

func (g *GPU) Read(t Tensor) ([]float32, error) { return g.E.Read(gt(t)) }
func (g *GPU) Flush() error                     { return g.E.Submit() }
func (g *GPU) CopyRegion(dst Tensor, dstOff int, src Tensor, srcOff, n int) {
	g.E.CopyRegion(gt(dst), dstOff, gt(src), srcOff, n)
}

func (g *GPU) Linear(y, x Tensor, w Weight, b Tensor, ep Epilogue) {
	g.E.MatMul(gt(y), gt(x), w.(gpuWeight).w, shaders.Epilogue{Bias: gt(b), Act: shaders.Act(ep.Act),
		Gate: gt(ep.Gate), GateOff: ep.GateOff, GateStride: ep.GateStride, GateRows: ep.GateRows, Accumulate: ep.Accumulate})
}

// FuseLinears stacks runs of weights of one kind, group and K whose stacked
// data, scales and biases each fit one binding (Limits.MaxTensor). The
// copies are submitted run by run and the originals released, so the peak
// memory is the largest run twice.
func (g *GPU) FuseLinears(ws []Weight, bs []Tensor) ([]Fused, error) {
	limit := g.E.Limits.MaxTensor()
	size := func(t *shaders.Tensor) uint64 {
		if t == nil {
			return 0
		}
		return uint64(t.Bytes())
	}
	fits := func(a, b shaders.Weight, ab, bb Tensor) bool {
		return a.Kind == b.Kind && a.Group == b.Group && a.K == b.K && (ab == nil) == (bb == nil) &&
			(a.Scales == nil) == (b.Scales == nil) && a.W.Bytes()%4 == 0 && b.W.Bytes()%4 == 0
	}
	var out []Fused
	for i := 0; i < len(ws); {
		w0 := ws[i].(gpuWeight).w
		wb, sb, bb := size(w0.W), size(w0.Scales), size(gt(bs[i]))
		j := i + 1
		for ; j < len(ws); j++ {
			w := ws[j].(gpuWeight).w
			if !fits(w0, w, bs[i], bs[j]) || wb+size(w.W) > limit || sb+size(w.Scales) > limit || bb+size(gt(bs[j])) > limit {
				break
			}
			wb, sb, bb = wb+size(w.W), sb+size(w.Scales), bb+size(gt(bs[j]))
		}
		if j == i+1 {
			out = append(out, Fused{W: ws[i], B: bs[i], Count: 1})
			i = j
			continue
		}
		var wt, st, bt []*shaders.Tensor
		f := shaders.Weight{Kind: w0.Kind, Group: w0.Group, K: w0.K}
		for k := i; k < j; k++ {
			w := ws[k].(gpuWeight).w
			f.N += w.N
			wt = append(wt, w.W)
			if w.Scales != nil {
				st = append(st, w.Scales)
			}
			if bs[k] != nil {
				bt = append(bt, gt(bs[k]))
			}
		}
		f.W = g.E.ConcatRows(wt...)
		f.W.Name = fmt.Sprintf("%s … (%d stacked)", w0.W.Name, j-i)
		if st != nil {
			f.Scales = g.E.ConcatRows(st...)
		}
		var b Tensor
		if bt != nil {
			b = g.E.ConcatRows(bt...)
		}
		for _, t := range append(append(wt, st...), bt...) {
			t.Release()
		}
		if err := g.E.Submit(); err != nil {
			return nil, fmt.Errorf("model: stacking %s …: %w", w0.W.Name, err)
		}
		out = append(out, Fused{W: gpuWeight{f}, B: b, Count: j - i})
		i = j
	}
	return out, nil
}

func (g *GPU) LayerNorm(y, x, gm, b Tensor, C int, eps float32) {
	g.E.LayerNorm(gt(y), gt(x), gt(gm), gt(b), C, eps)
}

func (g *GPU) LayerNormModulate(y, x, mod Tensor, C, rowsPerBatch, nChunks, shiftChunk, scaleChunk int, eps float32) {
	g.E.LayerNormModulate(gt(y), gt(x), shaders.Mod{Ada: gt(mod), Chunks: nChunks, Shift: shiftChunk, Scale: scaleChunk}, C, eps)
}

func (g *GPU) HeadNorm(qkv, gm, b Tensor, B, T, NH, HD, which int, eps float32) {
	g.E.HeadNorm(gt(qkv), gt(gm), gt(b), NH, HD, which, eps)
}

func (g *GPU) RoPE2D(qkv Tensor, B, T, NH, HD, prefix, H, W int, periods []float32) {
	key := fmt.Sprint(H, W, periods)
	tab := g.rope[key]
	if tab == nil {
		tab = g.E.Upload(ref.RoPETable(ref.RoPEAngles(H, W, f64(periods))))
		g.rope[key] = tab
	}
	g.E.RoPE2D(gt(qkv), tab, B, T, NH, HD, prefix)
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func (g *GPU) Attention(out, qkv Tensor, B, T, NH, HD int, scale float32) {
	q, k, v := shaders.QKVViews(gt(qkv), T, NH, HD)
	g.E.Attention(shaders.TokensView(gt(out), T, NH, HD), q, k, v, B, T, NH, HD, scale)
}

func (g *GPU) AttentionNCHW(out, q, k, v Tensor, B, C, HW int, scale float32) {
	view := func(t Tensor) shaders.View { return shaders.ChannelsView(gt(t), 1, C, HW) }
	g.E.Attention(view(out), view(q), view(k), view(v), B, HW, 1, C, scale)
}

func (g *GPU) GroupNorm(y, x, gm, b Tensor, B, C, HW, G int, eps float32, swish bool) {
	g.E.GroupNorm(gt(y), gt(x), gt(gm), gt(b), C, HW, G, eps, swish)
}

func (g *GPU) Conv2D(y, x, w, b Tensor, B, Cin, H, W, Cout, k, pad int, res Tensor) {
	g.E.Conv2D(gt(y), gt(x), gt(w), gt(b), B, Cin, H, W, Cout, k, 1, pad, shaders.ConvOpts{Res: gt(res)})
}

func (g *GPU) Downsample(y, x, w, b Tensor, B, C, H, W, Cout int) {
	g.E.Downsample(gt(y), gt(x), gt(w), gt(b), B, C, H, W, Cout)
}

func (g *GPU) UpsampleConv(y, x, w, b Tensor, B, C, H, W, Cout int) {
	g.E.Conv2D(gt(y), gt(x), gt(w), gt(b), B, C, H, W, Cout, 3, 1, 1, shaders.ConvOpts{Up2: true})
}

func (g *GPU) PatchEmbed(y, img, w, b Tensor, B, Cin, H, W, Cout, p int) {
	g.E.PatchEmbed(gt(y), gt(img), gt(w), gt(b), B, Cin, H, W, Cout, p)
}

func (g *GPU) Upsample2x(y, x Tensor, B, C, H, W int) { g.E.Upsample2x(gt(y), gt(x), B, C, H, W) }
func (g *GPU) Add(y, a, b Tensor)                     { g.E.Add(gt(y), gt(a), gt(b)) }
func (g *GPU) SwiGLU(y, a, b Tensor)                  { g.E.SwiGLU(gt(y), gt(a), gt(b)) }
func (g *GPU) SiLU(y, x Tensor)                       { g.E.Swish(gt(y), gt(x)) }
func (g *GPU) AddRows(y, v Tensor, C int)             { g.E.AddRowVector(gt(y), gt(y), gt(v), C) }
func (g *GPU) TimeEmbed(out, t Tensor, dim int, maxPeriod float32) {
	g.E.TimestepEmbedding(gt(out), gt(t), dim, float64(maxPeriod))
}
func (g *GPU) TokensToNCHW(y, x Tensor, B, T, C int) { g.E.Transpose(gt(y), gt(x), B, T, C) }
func (g *GPU) NCHWToTokens(y, x Tensor, B, C, T int) { g.E.Transpose(gt(y), gt(x), B, C, T) }
func (g *GPU) Concat(y, a, b Tensor, rows, Ca, Cb int) {
	g.E.ConcatChannels(gt(y), gt(a), gt(b), Ca, Cb)
}
func (g *GPU) Euler(z, v Tensor, dt float32) { g.E.EulerStep(gt(z), gt(v), dt) }
func (g *GPU) Scale(x Tensor, a float32)     { g.E.Scale(gt(x), gt(x), a) }

func (g *GPU) CFG(v, vc, vu Tensor, cu, cc float32) {
	if cu == 1-cc {
		g.E.CFG(gt(v), gt(vc), gt(vu), cc)
		return
	}
	g.E.Copy(gt(v), gt(vu)) // v = cu·vu + cc·vc (cfg_star's −R·v_u)
	g.E.Axpy(gt(v), gt(vc), cc, cu)
}

func (g *GPU) Denormalize(y, x, mean, std Tensor, C int) {
	g.E.Denormalize(gt(y), gt(x), gt(mean), gt(std), C)
}

func (g *GPU) ToRGBA8(img Tensor, B, H, W int) ([]byte, error) {
	out := g.E.Empty(shaders.U8, B, H, W, 4)
	defer out.Release()
	g.E.ToRGBA8(out, gt(img), B, H, W)
	return g.E.ReadRaw(out)
}
