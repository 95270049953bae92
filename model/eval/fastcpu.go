package eval

// FastCPU: model.CPU with its heavy ops (Linear, the convolutions, attention)
// replaced by blocked float32 kernels spread over all cores. The reference
// kernels accumulate in float64 one output at a time, which is the right
// oracle but ~5× (matmul) to ~15× (conv) slower per core and single-threaded;
// an evaluation runs the networks thousands of times. Everything else (norms,
// RoPE, data movement, tensors) is model.CPU's own code, so a FastCPU tensor
// is a model.CPU tensor. The only numerical difference is float32
// accumulation (tests bound it against model.CPU).

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"novae/model"
	"novae/shaders/ref"
)

// FastCPU is a model.Backend; the zero value uses GOMAXPROCS workers.
type FastCPU struct {
	model.CPU
	Workers int
}

func (f FastCPU) Name() string {
	return fmt.Sprintf("cpu (pure Go, eval's parallel f32 kernels, %d workers)", f.workers())
}

func (f FastCPU) workers() int {
	if f.Workers > 0 {
		return f.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (f FastCPU) d(t model.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return f.CPU.Data(t)
}

// fastW is a Linear weight dequantized to f32, [n,k].
type fastW struct {
	n, k int
	w    []float32
}

func (w *fastW) Dims() []int { return []int{w.n, w.k} }

// UploadWeight dequantizes as model.CPU does (same values the GPU computes with).
func (f FastCPU) UploadWeight(h model.HostWeight) model.Weight {
	w, err := h.Dequantize()
	if err != nil {
		panic(fmt.Sprintf("eval: weight %s: %v", h.Name, err))
	}
	return &fastW{n: h.Out, k: h.In, w: w}
}

// parallel runs fn over [0,n) split into contiguous chunks (aligned to
// align), one per worker.
func parallel(workers, n, align int, fn func(lo, hi int)) {
	if align < 1 {
		align = 1
	}
	chunks := min(workers, (n+align-1)/align)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	per := ((n+chunks-1)/chunks + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(n, lo+per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// Linear: y = epilogue(x·Wᵀ + b), exactly model.CPU's semantics.
func (f FastCPU) Linear(y, x model.Tensor, w model.Weight, b model.Tensor, ep model.Epilogue) {
	fw := w.(*fastW)
	xv, yv, bias, gate := f.d(x), f.d(y), f.d(b), f.d(ep.Gate)
	K, N := fw.k, fw.n
	M := len(xv) / K
	stride, rows := ep.GateStride, ep.GateRows
	if stride == 0 {
		stride = N
	}
	if gate != nil && rows == 0 {
		rows = len(gate) / N
	}
	if rows == 0 {
		rows = 1
	}
	rpb := M / rows
	act := int(ep.Act)
	parallel(f.workers(), M, 2, func(lo, hi int) {
		tmp := make([]float32, 2*N)
		for m := lo; m < hi; m += 2 {
			r := min(2, hi-m)
			gemmNT(tmp[:r*N], xv[m*K:(m+r)*K], fw.w, r, N, K)
			for i := range r {
				row := tmp[i*N : (i+1)*N]
				out := yv[(m+i)*N : (m+i+1)*N]
				for n, v := range row {
					if bias != nil {
						v += bias[n]
					}
					if act != ref.ActNone {
						v = ref.Activate(act, v)
					}
					if gate != nil {
						v *= gate[ep.GateOff+((m+i)/rpb)*stride+n]
					}
					if ep.Accumulate {
						v += out[n]
					}
					out[n] = v
				}
			}
		}
	})
}

// gemmNT: out[m·N+n] = Σ_k a[m·K+k]·b[n·K+k] for M rows of a and N rows of b
// (both K-contiguous), in float32 with 2×4 register blocking.
func gemmNT(out, a, b []float32, M, N, K int) {
	m := 0
	for ; m+2 <= M; m += 2 {
		a0 := a[m*K : m*K+K]
		a1 := a[(m+1)*K : (m+1)*K+K]
		n := 0
		for ; n+4 <= N; n += 4 {
			b0 := b[n*K : n*K+K]
			b1 := b[(n+1)*K : (n+1)*K+K]
			b2 := b[(n+2)*K : (n+2)*K+K]
			b3 := b[(n+3)*K : (n+3)*K+K]
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			for k := range a0 {
				x0, x1 := a0[k], a1[k]
				y0, y1, y2, y3 := b0[k], b1[k], b2[k], b3[k]
				c00 += x0 * y0
				c01 += x0 * y1
				c02 += x0 * y2
				c03 += x0 * y3
				c10 += x1 * y0
				c11 += x1 * y1
				c12 += x1 * y2
				c13 += x1 * y3
			}
			o := out[m*N+n : m*N+n+4]
			o[0], o[1], o[2], o[3] = c00, c01, c02, c03
			o = out[(m+1)*N+n : (m+1)*N+n+4]
			o[0], o[1], o[2], o[3] = c10, c11, c12, c13
		}
		for ; n < N; n++ {
			bn := b[n*K : n*K+K]
			out[m*N+n] = dot(a0, bn)
			out[(m+1)*N+n] = dot(a1, bn)
		}
	}
	for ; m < M; m++ {
		am := a[m*K : m*K+K]
		for n := range N {
			out[m*N+n] = dot(am, b[n*K:n*K+K])
		}
	}
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+4 <= len(a); k += 4 {
		s0 += a[k] * b[k]
		s1 += a[k+1] * b[k+1]
		s2 += a[k+2] * b[k+2]
		s3 += a[k+3] * b[k+3]
	}
	for ; k < len(a); k++ {
		s0 += a[k] * b[k]
	}
	return (s0 + s1) + (s2 + s3)
}

// conv runs a k×k, stride-1 convolution on NCHW x (seen nearest-upsampled ×2
// when up2) as im2col + gemmNT per batch item, batch items over the workers.
func (f FastCPU) conv(y, x, w, bias, res []float32, B, Cin, H, W, Cout, k, pad int, up2 bool) {
	u := 1
	if up2 {
		u = 2
	}
	Hi, Wi := H*u, W*u
	Ho, Wo := ref.ConvOut(Hi, k, 1, pad), ref.ConvOut(Wi, k, 1, pad)
	P, K := Ho*Wo, Cin*k*k
	work := func(lo, hi int, inner int) {
		cols := make([]float32, P*K)
		tmp := make([]float32, P*Cout)
		for bi := lo; bi < hi; bi++ {
			xb := x[bi*Cin*H*W : (bi+1)*Cin*H*W]
			im2col(cols, xb, Cin, H, W, Ho, Wo, k, pad, u)
			// tmp [P, Cout] = cols [P,K] · w[Cout,K]ᵀ, rows split over inner workers
			parallel(inner, P, 2, func(p0, p1 int) {
				gemmNT(tmp[p0*Cout:p1*Cout], cols[p0*K:p1*K], w, p1-p0, Cout, K)
			})
			yb := y[bi*Cout*P : (bi+1)*Cout*P]
			var rb []float32
			if res != nil {
				rb = res[bi*Cout*P : (bi+1)*Cout*P]
			}
			for co := range Cout {
				var bv float32
				if bias != nil {
					bv = bias[co]
				}
				out := yb[co*P : (co+1)*P]
				for p := range out {
					v := tmp[p*Cout+co] + bv
					if rb != nil {
						v += rb[co*P+p]
					}
					out[p] = v
				}
			}
		}
	}
	nw := f.workers()
	if B >= nw {
		parallel(nw, B, 1, func(lo, hi int) { work(lo, hi, 1) })
	} else {
		work(0, B, nw)
	}
}

// im2col writes cols[p·K + (ci·k+ky)·k+kx] = x[ci, (oy+ky−pad)/u, (ox+kx−pad)/u]
// (0 outside), p = oy·Wo+ox: one row per output pixel, in the weight's order.
func im2col(cols, x []float32, Cin, H, W, Ho, Wo, k, pad, u int) {
	K := Cin * k * k
	Hi, Wi := H*u, W*u
	for oy := range Ho {
		for ox := range Wo {
			row := cols[(oy*Wo+ox)*K : (oy*Wo+ox+1)*K]
			i := 0
			for ci := range Cin {
				xc := x[ci*H*W : (ci+1)*H*W]
				for ky := range k {
					iy := oy + ky - pad
					for kx := range k {
						ix := ox + kx - pad
						if iy < 0 || iy >= Hi || ix < 0 || ix >= Wi {
							row[i] = 0
						} else {
							row[i] = xc[(iy/u)*W+ix/u]
						}
						i++
					}
				}
			}
		}
	}
}

func (f FastCPU) Conv2D(y, x, w, b model.Tensor, B, Cin, H, W, Cout, k, pad int, res model.Tensor) {
	f.conv(f.d(y), f.d(x), f.d(w), f.d(b), f.d(res), B, Cin, H, W, Cout, k, pad, false)
}

func (f FastCPU) UpsampleConv(y, x, w, b model.Tensor, B, C, H, W, Cout int) {
	f.conv(f.d(y), f.d(x), f.d(w), f.d(b), nil, B, C, H, W, Cout, 3, 1, true)
}

// Attention over packed qkv [B,T,3·NH·HD] → out [B,T,NH·HD].
func (f FastCPU) Attention(out, qkv model.Tensor, B, T, NH, HD int, scale float32) {
	q, k, v := ref.QKVViews(f.d(qkv), T, NH, HD)
	f.attention(ref.TokensView(f.d(out), T, NH, HD), q, k, v, B, T, NH, HD, scale)
}

// AttentionNCHW: one head over HW positions of C channels, [B,C,HW] each.
func (f FastCPU) AttentionNCHW(out, q, k, v model.Tensor, B, C, HW int, scale float32) {
	view := func(t model.Tensor) ref.View { return ref.ChannelsView(f.d(t), 1, C, HW) }
	f.attention(view(out), view(q), view(k), view(v), B, HW, 1, C, scale)
}

// attention is ref.Attention's softmax(q·kᵀ·scale)·v on the same views, in
// float32 matrix products: (batch, head) pairs over the workers.
func (f FastCPU) attention(out, q, k, v ref.View, B, T, NH, HD int, scale float32) {
	parallel(f.workers(), B*NH, 1, func(lo, hi int) {
		qb, kb, vt := make([]float32, T*HD), make([]float32, T*HD), make([]float32, HD*T)
		s, o := make([]float32, T*T), make([]float32, T*HD)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for t := range T {
				for d := range HD {
					qb[t*HD+d] = q.Data[q.At(b, h, t, d)]
					kb[t*HD+d] = k.Data[k.At(b, h, t, d)]
					vt[d*T+t] = v.Data[v.At(b, h, t, d)]
				}
			}
			gemmNT(s, qb, kb, T, T, HD)
			for i := range T {
				row := s[i*T : (i+1)*T]
				mx := float32(math.Inf(-1))
				for j := range row {
					row[j] *= scale
					mx = max(mx, row[j])
				}
				var sum float64
				for j, x := range row {
					e := math.Exp(float64(x - mx))
					row[j] = float32(e)
					sum += e
				}
				inv := float32(1 / sum)
				for j := range row {
					row[j] *= inv
				}
			}
			gemmNT(o, s, vt, T, HD, T)
			for t := range T {
				for d := range HD {
					out.Data[out.At(b, h, t, d)] = o[t*HD+d]
				}
			}
		}
	})
}
