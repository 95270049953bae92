package main

import (
	"math/rand/v2"
	"testing"
)

// Tokens made of three known directions with decreasing spread come out
// with R following the first, G the second, B the third.
func TestPCAColors(t *testing.T) {
	T, C := 64, 16
	r := rand.New(rand.NewPCG(3, 4))
	dirs := [3]int{5, 9, 2} // channels carrying the components
	scale := [3]float64{10, 4, 1}
	// Centred, mutually orthogonal coefficient columns (Gram–Schmidt), so
	// the sample covariance is diagonal in these directions.
	col := make([][]float64, 3)
	for k := range 3 {
		v := make([]float64, T)
		for t := range v {
			v[t] = r.NormFloat64()
		}
		for j := 0; j <= k; j++ {
			var d, nn float64
			for t := range v {
				if j == k {
					d += v[t]
					nn++
				} else {
					d += v[t] * col[j][t]
					nn += col[j][t] * col[j][t]
				}
			}
			for t := range v {
				if j == k {
					v[t] -= d / nn // centre
				} else {
					v[t] -= d / nn * col[j][t]
				}
			}
		}
		col[k] = v
	}
	coef := make([][3]float64, T)
	x := make([]float32, T*C)
	for t := range T {
		for k := range 3 {
			coef[t][k] = col[k][t] * scale[k]
			x[t*C+dirs[k]] = float32(coef[t][k])
		}
	}
	px := PCAColors(x, T, C)
	for k := range 3 {
		// the colour channel must be monotone in the component's coefficient
		var agree, total int
		for a := range T {
			for b := range T {
				if coef[a][k] < coef[b][k]-0.1*scale[k] {
					total++
					if px[a*4+k] <= px[b*4+k] {
						agree++
					}
				}
			}
		}
		if float64(agree) < 0.98*float64(total) {
			t.Errorf("channel %d follows component %d in %d of %d pairs", k, k, agree, total)
		}
	}
	for i := 3; i < len(px); i += 4 {
		if px[i] != 255 {
			t.Fatal("alpha not opaque")
		}
	}
}

func TestUpscale(t *testing.T) {
	src := []byte{1, 1, 1, 255, 2, 2, 2, 255, 3, 3, 3, 255, 4, 4, 4, 255}
	out := Upscale(src, 2, 4)
	want := []byte{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}
	for i, w := range want {
		if out[i*4] != w {
			t.Fatalf("pixel %d = %d, want %d", i, out[i*4], w)
		}
	}
}

func TestResample(t *testing.T) {
	src := make([]byte, 4*4*4)
	for i := range 16 {
		for c := range 4 {
			src[i*4+c] = byte(i * 10)
		}
	}
	out := Resample(src, 4, 2)
	// block (0,0) holds pixels 0,1,4,5: mean 25
	if out[0] != 25 || out[4] != 45 || out[8] != 105 || out[12] != 125 {
		t.Errorf("Resample 4→2: %v", out)
	}
	if got := Resample(src, 4, 4); string(got) != string(src) {
		t.Error("Resample to the same size changed the image")
	}
}
