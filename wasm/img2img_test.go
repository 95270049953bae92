package main

import (
	"math/rand/v2"
	"testing"

	"novae/model"
)

// At t0 = 0 flowFrom is model.Sample's Euler path (separate conditional and
// unconditional passes instead of one batch of two, the same values on the
// CPU reference).
func TestFlowFromMatchesSample(t *testing.T) {
	cfg := model.DiTConfig{InChannels: 8, Grid: 2, Hidden: 16, Depth: 1, Heads: 2, MLPRatio: 2, NumClasses: 3, QKNorm: true, LearnSigma: true}
	src := model.MapSource{}
	r := rand.New(rand.NewPCG(1, 1))
	for _, p := range (&model.DiT{Cfg: cfg}).Params() {
		if p.Optional {
			continue
		}
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(0.3 * r.NormFloat64())
		}
		src[p.Name] = model.MapTensor{Shape: p.Shape, Data: v}
	}
	b := model.CPU{}
	dit, err := model.LoadDiT(b, src, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := model.ParseSchedule("constant")
	for _, w := range []float64{1, 2.5} {
		o := Options{Class: 1, Seed: 3, Steps: 3, CFG: w, Schedule: sc, Shift: 0.4}
		noise := model.Noise(3, 4*8)
		want, err := model.Sample(b, dit, model.SampleOptions{Classes: []int{1}, Noise: noise, Steps: 3, CFG: w, Schedule: sc, Shift: 0.4})
		if err != nil {
			t.Fatal(err)
		}
		var got []float32
		err = flowFrom(b, dit, noise, 0, o, func(i int, t float64, z, x0 model.Tensor) error {
			if i == o.Steps-1 {
				got = append([]float32(nil), b.Data(z)...)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range b.Data(want) {
			if got[i] != v {
				t.Fatalf("cfg %g: [%d] flowFrom %g, Sample %g", w, i, got[i], v)
			}
		}
	}
}
