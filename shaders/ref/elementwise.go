package ref

// The elementwise and layout ops a sampling step calls many times. Where an
// op allows it, y may be the same slice as an input (in place).

// Add is y = a + b.
func Add(y, a, b []float32) {
	for i := range y {
		y[i] = a[i] + b[i]
	}
}

// Scale is y = s·x.
func Scale(y, x []float32, s float32) {
	for i := range y {
		y[i] = s * x[i]
	}
}

// Axpy is y = a·x + b·y; b = 0 does not read y (BLAS's β = 0).
func Axpy(y, x []float32, a, b float32) {
	if b == 0 {
		Scale(y, x, a)
		return
	}
	for i := range y {
		y[i] = a*x[i] + b*y[i]
	}
}

// EulerStep is the flow sampler's Euler update z += dt·v.
func EulerStep(z, v []float32, dt float32) {
	for i := range z {
		z[i] += dt * v[i]
	}
}

// CFG is classifier-free guidance, v = vu + w·(vc − vu).
func CFG(v, vc, vu []float32, w float32) {
	for i := range v {
		v[i] = vu[i] + w*(vc[i]-vu[i])
	}
}

// CFGBatched is CFG on one batched prediction: vcu holds the conditional
// half first and the unconditional half second (the DiT's
// forward_with_cfg order, labels cat([y, null])), each len(v) long.
func CFGBatched(v, vcu []float32, w float32) {
	n := len(v)
	CFG(v, vcu[:n], vcu[n:2*n], w)
}

// Swish is y = x·sigmoid(x) (SiLU).
func Swish(y, x []float32) {
	for i := range y {
		y[i] = SiLU(x[i])
	}
}

// SwiGLU is the gated half of a SwiGLU FFN, y = silu(a) ⊙ b. DINOv3's
// SwiGLUFFN is w3(silu(w1 x) ⊙ w2 x): a = w1 x, b = w2 x.
func SwiGLU(y, a, b []float32) {
	for i := range y {
		y[i] = SiLU(a[i]) * b[i]
	}
}

// SwiGLUPacked is SwiGLU on one packed product ab [M, 2·H] (w1 and w2
// stacked into a single [2H, K] weight: one matmul instead of two): each
// row is [a | b], and y is [M, H]. It is x12.chunk(2, dim=-1) followed by
// silu(x1)·x2.
func SwiGLUPacked(y, ab []float32, H int) {
	for i := range y {
		m, h := i/H, i%H
		y[i] = SiLU(ab[m*2*H+h]) * ab[m*2*H+H+h]
	}
}

// ConcatChannels concatenates token-major a [rows, C1] and b [rows, C2]
// along channels into y [rows, C1+C2] (rows = B·T).
func ConcatChannels(y, a, b []float32, C1, C2 int) {
	C := C1 + C2
	for r := range len(y) / C {
		copy(y[r*C:r*C+C1], a[r*C1:(r+1)*C1])
		copy(y[r*C+C1:(r+1)*C], b[r*C2:(r+1)*C2])
	}
}

// Transpose swaps the last two dimensions: x [B, R, C] → y [B, C, R].
// Token-major [B, T, C] → NCHW [B, C, H, W] is Transpose(y, x, B, T, C)
// with T = H·W; the way back is Transpose(y, x, B, C, T).
func Transpose(y, x []float32, B, R, C int) {
	for b := range B {
		for r := range R {
			for c := range C {
				y[(b*C+c)*R+r] = x[(b*R+r)*C+c]
			}
		}
	}
}

// AddRowVector broadcasts v over the rows of x: y = x + v, with v [G, C]
// and x [G, rows, C] (G = len(v)/C): v [C] is a bias over every token,
// v [B, C] one vector per batch item. A position embedding [T, C'] added
// to every batch item is C = T·C'.
func AddRowVector(y, x, v []float32, C int) {
	per := len(x) / (len(v) / C) // elements of x per row of v
	for i := range y {
		y[i] = x[i] + v[(i/per)*C+i%C]
	}
}

// Normalize is y = (x − mean[c]) / std[c] per channel c of the last
// dimension (C channels).
func Normalize(y, x, mean, std []float32, C int) {
	for i := range y {
		c := i % C
		y[i] = (x[i] - mean[c]) / std[c]
	}
}

// Denormalize is y = x·std[c] + mean[c], the inverse of Normalize (the SVG
// latent before the decoder).
func Denormalize(y, x, mean, std []float32, C int) {
	for i := range y {
		c := i % C
		y[i] = x[i]*std[c] + mean[c]
	}
}
