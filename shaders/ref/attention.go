package ref

import "math"

// View is a strided window onto a flat tensor: element (b, h, t, d) of the
// view is Data[Off + b·BatchStride + h·HeadStride + t·TokStride + d·DimStride].
// It lets attention read the packed qkv of a Linear and the NCHW outputs of
// 1×1 convolutions without copies (shaders.View is its GPU twin).
type View struct {
	Data                                               []float32
	Off, TokStride, HeadStride, DimStride, BatchStride int
}

// At is the flat index of element (b, h, t, d).
func (v View) At(b, h, t, d int) int {
	return v.Off + b*v.BatchStride + h*v.HeadStride + t*v.TokStride + d*v.DimStride
}

// QKVViews splits the output of a qkv Linear, [B,T,3·NH·HD], the way PyTorch's
// reshape(B,T,3,NH,HD) does: q, k, v, then heads, then the head dim.
func QKVViews(qkv []float32, T, NH, HD int) (q, k, v View) {
	row := 3 * NH * HD
	q = View{Data: qkv, Off: 0, TokStride: row, HeadStride: HD, DimStride: 1, BatchStride: T * row}
	k, v = q, q
	k.Off, v.Off = NH*HD, 2*NH*HD
	return
}

// TokensView is a token-major [B,T,NH·HD] tensor (a row per token, heads
// side by side), what attention writes for the following proj Linear.
func TokensView(x []float32, T, NH, HD int) View {
	return View{Data: x, TokStride: NH * HD, HeadStride: HD, DimStride: 1, BatchStride: T * NH * HD}
}

// ChannelsView is a channel-major [B,NH·HD,HW] tensor (NCHW with H·W
// flattened): tokens are the HW positions, head h owns channels h·HD….
func ChannelsView(x []float32, NH, HD, HW int) View {
	return View{Data: x, TokStride: 1, HeadStride: HD * HW, DimStride: HW, BatchStride: NH * HD * HW}
}

// Attention is scaled dot-product attention without a mask, per batch item
// and head: out = softmax(q·kᵀ·scale)·v over T tokens of head dim HD, in
// float64.
// https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html
func Attention(out, q, k, v View, B, T, NH, HD int, scale float32) {
	s := make([]float64, T)
	acc := make([]float64, HD)
	for b := range B {
		for h := range NH {
			for i := range T {
				mx := math.Inf(-1)
				for j := range T {
					var dot float64
					for d := range HD {
						dot += float64(q.Data[q.At(b, h, i, d)]) * float64(k.Data[k.At(b, h, j, d)])
					}
					s[j] = dot * float64(scale)
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range T {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				clear(acc)
				for j := range T {
					for d := range HD {
						acc[d] += s[j] * float64(v.Data[v.At(b, h, j, d)])
					}
				}
				for d := range HD {
					out.Data[out.At(b, h, i, d)] = float32(acc[d] / sum)
				}
			}
		}
	}
}
