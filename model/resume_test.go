package model_test

import (
	"slices"
	"testing"

	"novae/model"
)

// TestSampleResume: a run stopped after any step and resumed from the latent
// OnStep saw there (SampleOptions.Start, as the page does after losing its
// GPU device) ends exactly where the uninterrupted run ends, for Euler and
// Heun with a CFG schedule, on both backends.
func TestSampleResume(t *testing.T) {
	cfg := model.DiTConfig{InChannels: 8, Grid: 2, Hidden: 32, Depth: 2, Heads: 2, MLPRatio: 2, NumClasses: 3, QKNorm: true, LearnSigma: true}
	src := randomSource((&model.DiT{Cfg: cfg}).Params(), 5, 0.1)
	for _, b := range []model.Backend{model.CPU{}, gpu} {
		m, err := model.LoadDiT(b, src, "", cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, heun := range []bool{false, true} {
			base := model.SampleOptions{Classes: []int{0, 2}, Seed: 9, Steps: 4, Heun: heun, CFG: 3, Shift: 0.3,
				Schedule: model.Schedule{Kind: "linear"}}
			var states [][]float32
			o := base
			o.OnStep = func(s model.Step) error {
				v, err := b.Read(s.Z)
				states = append(states, v)
				return err
			}
			z, err := model.Sample(b, m, o)
			if err != nil {
				t.Fatal(err)
			}
			want, err := b.Read(z)
			if err != nil {
				t.Fatal(err)
			}
			for k := 1; k < base.Steps; k++ {
				o := base
				o.Noise, o.Start = slices.Clone(states[k-1]), k
				var seen []int
				o.OnStep = func(s model.Step) error { seen = append(seen, s.I); return nil }
				z, err := model.Sample(b, m, o)
				if err != nil {
					t.Fatal(err)
				}
				got, err := b.Read(z)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s heun=%v: resumed at step %d, the result differs", b.Name(), heun, k)
				}
				if seen[0] != k || len(seen) != base.Steps-k {
					t.Errorf("%s heun=%v: resumed at %d, OnStep saw steps %v", b.Name(), heun, k, seen)
				}
			}
		}
	}
	m, _ := model.LoadDiT(model.CPU{}, src, "", cfg)
	if _, err := model.Sample(model.CPU{}, m, model.SampleOptions{Classes: []int{0}, Steps: 2, Shift: 1, Start: 2}); err == nil {
		t.Error("a start past the last step was accepted")
	}
}
