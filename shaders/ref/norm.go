package ref

import "math"

// normRow writes the LayerNorm of x[off : off+n] to y[off : off+n] with
// statistics in float64 (biased variance), applying gamma and beta when
// non-nil; y may be x.
func normRow(y, x, gamma, beta []float32, off, n int, eps float32) {
	var s float64
	for i := range n {
		s += float64(x[off+i])
	}
	mean := s / float64(n)
	var v float64
	for i := range n {
		d := float64(x[off+i]) - mean
		v += d * d
	}
	rstd := 1 / math.Sqrt(v/float64(n)+float64(eps))
	for i := range n {
		z := (float64(x[off+i]) - mean) * rstd
		if gamma != nil {
			z *= float64(gamma[i])
		}
		if beta != nil {
			z += float64(beta[i])
		}
		y[off+i] = float32(z)
	}
}

// LayerNorm is torch.nn.LayerNorm over the last dimension C of x [..., C]:
// y = (x − mean)/sqrt(var + eps)·gamma + beta with the biased variance;
// gamma and beta may be nil (elementwise_affine=False). y may be x.
// https://pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html
func LayerNorm(y, x, gamma, beta []float32, C int, eps float32) {
	for off := 0; off < len(x); off += C {
		normRow(y, x, gamma, beta, off, C, eps)
	}
}

// Mod names the shift and scale of an adaLN modulation inside the one adaLN
// output Ada [B, Chunks·C]: shift[b,c] = Ada[b·Chunks·C + Shift·C + c],
// likewise scale (the engine's shaders.Mod).
type Mod struct {
	Ada          []float32
	Chunks       int
	Shift, Scale int
}

// Modulate is the DiT's modulate(x, shift, scale) = x·(1 + scale[b]) +
// shift[b] on x [B·T, C], with b = row/T. y may be x.
// https://github.com/facebookresearch/DiT/blob/main/models.py (modulate)
func Modulate(y, x []float32, m Mod, C int) {
	rows := len(x) / C
	B := len(m.Ada) / (m.Chunks * C)
	for r := range rows {
		base := (r / (rows / B)) * m.Chunks * C
		for c := range C {
			shift := float64(m.Ada[base+m.Shift*C+c])
			scale := float64(m.Ada[base+m.Scale*C+c])
			y[r*C+c] = float32(float64(x[r*C+c])*(1+scale) + shift)
		}
	}
}

// LayerNormModulate is modulate(LayerNorm(x), shift, scale) with a
// LayerNorm without affine, as the DiT's adaLN blocks and final layer.
// y may be x.
func LayerNormModulate(y, x []float32, m Mod, C int, eps float32) {
	z := make([]float32, len(x))
	LayerNorm(z, x, nil, nil, C, eps)
	Modulate(y, z, m, C)
}

// HeadNorm is the DiT's qk-norm, in place: torch.nn.LayerNorm(HD) on each
// head of the q part (which 0) or k part (which 1) of qkv [B, T, 3·NH·HD]
// (qkv.reshape(B, T, 3, NH, HD)); gamma and beta [HD] may be nil.
// https://pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html
func HeadNorm(qkv, gamma, beta []float32, NH, HD, which int, eps float32) {
	tok := 3 * NH * HD
	for t := 0; t < len(qkv); t += tok {
		for h := range NH {
			normRow(qkv, qkv, gamma, beta, t+which*NH*HD+h*HD, HD, eps)
		}
	}
}
