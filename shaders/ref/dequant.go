package ref

import (
	"github.com/x448/float16"
)

// The storage formats the dequantizing matmul reads (model/weights/doc.go
// documents them as the file convention). Each Dequant* returns W as f32
// [N,K].

// DequantF16 widens IEEE half bits.
func DequantF16(h []uint16) []float32 {
	w := make([]float32, len(h))
	for i, v := range h {
		w[i] = float16.Frombits(v).Float32()
	}
	return w
}

// DequantInt8 returns q·scale, with scales per row (group 0) or per group of
// `group` consecutive columns.
func DequantInt8(q []int8, scales []float32, N, K, group int) []float32 {
	w := make([]float32, N*K)
	for n := range N {
		for k := range K {
			w[n*K+k] = float32(q[n*K+k]) * scales[scaleIndex(n, k, K, group)]
		}
	}
	return w
}

// DequantInt4 returns (nibble−8)·scale; column 2j is the low nibble of byte j.
func DequantInt4(packed []byte, scales []float32, N, K, group int) []float32 {
	w := make([]float32, N*K)
	for n := range N {
		for k := range K {
			e := n*K + k
			nib := packed[e/2] >> (4 * (e % 2)) & 0xf
			w[e] = float32(int(nib)-8) * scales[scaleIndex(n, k, K, group)]
		}
	}
	return w
}

func scaleIndex(n, k, K, group int) int {
	if group == 0 {
		return n
	}
	return n*(K/group) + k/group
}
