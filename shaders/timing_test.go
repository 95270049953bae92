//go:build !js

package shaders_test

import (
	"errors"
	"testing"
	"time"

	"novae/shaders"
)

// TestTimeGPU: on a device with timestamp-query, eight matmuls take longer
// than one and no GPU span exceeds the wall time around it (which would mean
// the ticks are not nanoseconds); without it, TimeGPU says so and runs nothing.
func TestTimeGPU(t *testing.T) {
	const M, K, N = 64, 256, 256
	rng := seeded("timegpu")
	x := eng.Upload(randn(rng, M*K, 1), M, K)
	w := shaders.Weight{W: eng.Upload(randn(rng, N*K, 0.1), N, K), Kind: shaders.WF32, N: N, K: K}
	y := eng.Empty(shaders.F32, M, N)
	defer func() { x.Release(); w.W.Release(); y.Release() }()
	run := func(n int) func() {
		return func() {
			for range n {
				eng.MatMul(y, x, w, shaders.Epilogue{})
			}
		}
	}
	if !eng.HasTimestamps() {
		called := false
		_, err := eng.TimeGPU(func() { called = true })
		if !errors.Is(err, shaders.ErrNoTimestamps) || called {
			t.Fatalf("without timestamp-query: err %v, f called %v; want ErrNoTimestamps and no call", err, called)
		}
		t.Skip("device without timestamp-query")
	}
	if _, err := eng.TimeGPU(run(1)); err != nil { // warm-up: compiles the kernel
		t.Fatal(err)
	}
	span := func(n int) time.Duration {
		t0 := time.Now()
		d, err := eng.TimeGPU(run(n))
		wall := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 || d > wall {
			t.Fatalf("%d matmuls: GPU span %v, wall %v: want 0 < GPU ≤ wall", n, d, wall)
		}
		return d
	}
	d1, d8 := span(1), span(8)
	t.Logf("1 matmul %v, 8 matmuls %v", d1, d8)
	if d8 <= d1 {
		t.Fatalf("8 matmuls took %v, not more than one (%v)", d8, d1)
	}
}

// TestTimeGPUError: an op failing inside f is TimeGPU's error, and clears.
func TestTimeGPUError(t *testing.T) {
	if !eng.HasTimestamps() {
		t.Skip("device without timestamp-query")
	}
	gone := eng.Empty(shaders.F32, 64)
	gone.Release()
	y := eng.Empty(shaders.F32, 64)
	defer y.Release()
	if _, err := eng.TimeGPU(func() { eng.Add(y, gone, gone) }); err == nil {
		t.Fatal("an op on a released tensor: no error")
	}
	if _, err := eng.TimeGPU(func() { eng.Add(y, y, y) }); err != nil {
		t.Fatalf("after an error: %v", err)
	}
}
