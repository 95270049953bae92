//go:build !js

package shaders_test

import (
	"testing"

	"novae/shaders"
)

// TestMatMulTuneInsideTimeGPU: a first, tuning MatMul recorded inside
// TimeGPU (as a benchmark times it) must not deadlock on the timestamp
// query set, and must still compute the right thing.
func TestMatMulTuneInsideTimeGPU(t *testing.T) {
	if !eng.HasTimestamps() {
		t.Skip("no timestamp-query on this device")
	}
	defer eng.SetMatMul("auto")
	if err := eng.SetMatMul("tune"); err != nil {
		t.Fatal(err)
	}
	c := mmCase{M: 9, K: 32, N: 24, bias: true}
	x, w, y0, bias, gate := mmInputs(c)
	xt, yt, bt := eng.Upload(x, c.M, c.K), eng.Upload(y0, c.M, c.N), eng.Upload(bias, c.N)
	wt := shaders.Weight{W: eng.Upload(w, c.N, c.K), Kind: shaders.WF32, N: c.N, K: c.K}
	if _, err := eng.TimeGPU(func() { eng.MatMul(yt, xt, wt, shaders.Epilogue{Bias: bt}) }); err != nil {
		t.Fatal(err)
	}
	check(t, "matmul tuned inside TimeGPU", read(t, yt), mmWant(c, x, w, y0, bias, gate), 1e-5, 1e-5)
	if len(eng.TunedMatMul(c.M, c.N, c.K, shaders.WF32, 0, false)) == 0 {
		t.Error("nothing was tuned")
	}
	for _, tt := range []*shaders.Tensor{xt, yt, bt, wt.W} {
		tt.Release()
	}
}
