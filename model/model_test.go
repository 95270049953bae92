package model_test

// Whole-network parity against PyTorch. The fixtures in testdata/ come from
// the official-structure twins in tools/reference (seeded, random weights):
//
//	/usr/bin/python3 tools/reference/make_fixtures.py
//
// Every test runs on both backends: the WebGPU engine and the pure-Go
// reference. Tolerance for a whole network in f32: 1e-3 relative to the
// output's scale (max |ref|), as STYLE.md sets for networks.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"novae/model"
	"novae/model/pt"
	"novae/model/weights"
	"novae/shaders"
)

var gpu *model.GPU

func TestMain(m *testing.M) {
	e, err := shaders.New(shaders.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: no WebGPU device:", err)
		os.Exit(1)
	}
	gpu = model.NewGPU(e)
	os.Exit(m.Run())
}

func backends() []model.Backend { return []model.Backend{model.CPU{}, gpu} }

// fixture reads a tensor of a testdata safetensors file.
type fixture struct{ f *weights.File }

func openFixture(t *testing.T, name string) fixture {
	t.Helper()
	f, err := weights.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fixture{f}
}

func (f fixture) get(t *testing.T, name string) []float32 {
	t.Helper()
	v, err := f.f.F32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f fixture) config(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(f.f.Metadata()["config"]), v); err != nil {
		t.Fatal(err)
	}
}

// checkpoint reads a PyTorch checkpoint into a MapSource, unwrapping prefix.
func checkpoint(t *testing.T, path string, prefixes ...string) model.MapSource {
	t.Helper()
	m, err := pt.Load("testdata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	if len(prefixes) > 0 {
		m = pt.Unwrap(m, prefixes...)
	}
	src := model.MapSource{}
	for k, v := range m {
		src[k] = model.MapTensor{Shape: v.Shape, Data: v.Data}
	}
	return src
}

// near compares with |got−want| ≤ tol·max|want| and reports the error.
func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale, worst float64
	wi := 0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) || d > worst {
			worst, wi = d, i
			if math.IsNaN(d) {
				worst = math.Inf(1)
			}
		}
	}
	rel := worst / math.Max(scale, 1e-30)
	if rel > tol {
		t.Errorf("%s: max error %.3g (%.3g of scale %.3g) at [%d]: got %g want %g; first: %v vs %v",
			what, worst, rel, scale, wi, got[wi], want[wi], got[:min(4, len(got))], want[:min(4, len(want))])
		return
	}
	t.Logf("%s: OK, max error %.3g relative to scale %.3g", what, rel, scale)
}

type ditFixtureConfig struct {
	Depth      int     `json:"depth"`
	Hidden     int     `json:"hidden_size"`
	InChannels int     `json:"in_channels"`
	LearnSigma bool    `json:"learn_sigma"`
	MLPRatio   float64 `json:"mlp_ratio"`
	NumClasses int     `json:"num_classes"`
	Heads      int     `json:"num_heads"`
	Patches    int     `json:"num_patches"`
	QKNorm     bool    `json:"qk_norm"`
}

func (c ditFixtureConfig) cfg() model.DiTConfig {
	g := int(math.Sqrt(float64(c.Patches)))
	return model.DiTConfig{InChannels: c.InChannels, Grid: g, Hidden: c.Hidden, Depth: c.Depth, Heads: c.Heads,
		MLPRatio: c.MLPRatio, NumClasses: c.NumClasses, QKNorm: c.QKNorm, LearnSigma: c.LearnSigma}
}

func ints(v []float32) []int {
	o := make([]int, len(v))
	for i, x := range v {
		o[i] = int(x)
	}
	return o
}

// TestDiTParity: DiT forward (t, y, x) against the official-structure twin.
func TestDiTParity(t *testing.T) {
	io := openFixture(t, "dit_tiny_io.safetensors")
	var fc ditFixtureConfig
	io.config(t, &fc)
	cfg := fc.cfg()
	src := checkpoint(t, "dit_tiny.pt", "ema.")
	x, tt, y, out := io.get(t, "x"), io.get(t, "t"), ints(io.get(t, "y")), io.get(t, "out")
	B, T, C := 2, cfg.Grid*cfg.Grid, cfg.InChannels
	want := make([]float32, 0, B*T*C) // the velocity half of learn_sigma's output
	for r := range B * T {
		want = append(want, out[r*2*C:r*2*C+C]...)
	}
	for _, b := range backends() {
		t.Run(b.Name(), func(t *testing.T) {
			m, err := model.LoadDiT(b, src, "", cfg)
			if err != nil {
				t.Fatal(err)
			}
			cond, err := m.Condition(b, tt, y)
			if err != nil {
				t.Fatal(err)
			}
			xt := b.Upload(x, B, T, C)
			o := b.Alloc(B, T, C)
			m.Forward(b, o, xt, cond)
			got, err := b.Read(o)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "dit out", got, want, 1e-3)
		})
	}
}
