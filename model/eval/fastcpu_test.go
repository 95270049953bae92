package eval

import (
	"math"
	"path/filepath"
	"testing"

	"novae/model"
	"novae/model/convert"
	"novae/model/weights"
)

// randomModel writes random weights at a config file to a temp file.
func randomModel(t testing.TB, cfgPath string, std float32) string {
	t.Helper()
	cfg, err := convert.LoadConfig(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := convert.Metadata(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "random.safetensors")
	if err := weights.WriteFile(path, convert.Random(cfg, 3, std), meta); err != nil {
		t.Fatal(err)
	}
	return path
}

func openModel(t testing.TB, b model.Backend, path string) *model.SVG {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cfg, err := model.ParseConfig(f.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(b, model.FileSource{F: f}, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func relErr(got, want []float32) float64 {
	var scale, worst float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		worst = math.Max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	return worst / scale
}

// TestFastCPUMatchesCPU: sampling (DiT with CFG), decoding (convolutions,
// upsampling, attention) and both encoders agree with model.CPU to float32
// accumulation noise.
func TestFastCPUMatchesCPU(t *testing.T) {
	path := randomModel(t, "testdata/tiny32.json", 0.1)
	run := func(b model.Backend) map[string][]float32 {
		m := openModel(t, b, path)
		out := map[string][]float32{}
		z, err := model.Sample(b, m.DiT, model.SampleOptions{Classes: []int{0, 3, 7}, Seed: 5, Steps: 2, CFG: 3,
			Shift: 0.3, Schedule: model.Schedule{Kind: "constant"}})
		if err != nil {
			t.Fatal(err)
		}
		read := func(name string, x model.Tensor) {
			v, err := b.Read(x)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = v
		}
		read("latent", z)
		img := m.Decode(b, z, 3)
		read("image", img)
		read("dino", m.Dino.Forward(b, img, 3, 32, 32))
		read("residual", m.Residual.Forward(b, img, 3))
		return out
	}
	want := run(model.CPU{})
	for _, workers := range []int{1, 3} {
		got := run(FastCPU{Workers: workers})
		for k, w := range want {
			if e := relErr(got[k], w); e > 1e-4 {
				t.Errorf("workers %d: %s: error %.3g of scale", workers, k, e)
			} else {
				t.Logf("workers %d: %s: error %.3g of scale", workers, k, e)
			}
		}
	}
}

func TestGemmNT(t *testing.T) {
	for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {2, 4, 8}, {5, 9, 33}} {
		M, N, K := s[0], s[1], s[2]
		a, b := make([]float32, M*K), make([]float32, N*K)
		for i := range a {
			a[i] = float32(i%11) - 5
		}
		for i := range b {
			b[i] = float32(i%7) - 3
		}
		out := make([]float32, M*N)
		gemmNT(out, a, b, M, N, K)
		for m := range M {
			for n := range N {
				var s float32
				for k := range K {
					s += a[m*K+k] * b[n*K+k]
				}
				if out[m*N+n] != s {
					t.Fatalf("%v: out[%d,%d] = %g, want %g", s, m, n, out[m*N+n], s)
				}
			}
		}
	}
}
