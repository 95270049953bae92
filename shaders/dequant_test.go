package shaders_test

import (
	"fmt"
	"testing"

	"github.com/x448/float16"

	"novae/shaders"
	"novae/shaders/ref"
)

// TestDequantize: every stored kind back to f32, exactly the values the
// reference dequantizers give (the same products in f32): tolerance 0.
func TestDequantize(t *testing.T) {
	for _, c := range []struct{ N, K, group int }{{7, 13, 0}, {32, 3 * 9, 0}, {5, 64, 16}, {3, 128, 32}} {
		rng := seeded(fmt.Sprint(c))
		w := randn(rng, c.N*c.K, 0.3)
		t.Run(fmt.Sprintf("N=%d,K=%d,group=%d", c.N, c.K, c.group), func(t *testing.T) {
			y := eng.Empty(shaders.F32, c.N, c.K)
			defer y.Release()
			q, s := quantize8(w, c.N, c.K, c.group)
			raw := make([]byte, len(q))
			for i, v := range q {
				raw[i] = byte(v)
			}
			eng.Dequantize(y, shaders.Weight{W: eng.UploadRaw(shaders.I8, raw, c.N, c.K), Scales: eng.Upload(s, len(s)),
				Kind: shaders.WInt8, Group: c.group, N: c.N, K: c.K})
			check(t, "int8", read(t, y), ref.DequantInt8(q, s, c.N, c.K, c.group), 0, 0)
			if c.group > 0 && c.K%2 == 0 {
				p, s4 := quantize4(w, c.N, c.K, c.group)
				eng.Dequantize(y, shaders.Weight{W: eng.UploadRaw(shaders.U8, p, c.N, c.K/2), Scales: eng.Upload(s4, len(s4)),
					Kind: shaders.WInt4, Group: c.group, N: c.N, K: c.K})
				check(t, "int4", read(t, y), ref.DequantInt4(p, s4, c.N, c.K, c.group), 0, 0)
			}
			h := make([]uint16, len(w))
			hb := make([]byte, 2*len(w))
			for i, v := range w {
				h[i] = float16.Fromfloat32(v).Bits()
				hb[2*i], hb[2*i+1] = byte(h[i]), byte(h[i]>>8)
			}
			eng.Dequantize(y, shaders.Weight{W: eng.UploadRaw(shaders.F16, hb, c.N, c.K), Kind: shaders.WF16, N: c.N, K: c.K})
			check(t, "f16", read(t, y), ref.DequantF16(h), 0, 0)
		})
	}
}
