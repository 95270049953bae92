package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"novae/model"
)

func TestNoisedStart(t *testing.T) {
	x, eps := []float32{1, -2, 4}, []float32{3, 0.5, -1}
	for _, c := range []struct {
		t0   float64
		want []float32
	}{
		{0, eps}, {1, x}, {0.25, []float32{0.75*3 + 0.25*1, 0.75*0.5 - 0.25*2, -0.75 + 0.25*4}},
	} {
		got := NoisedStart(x, eps, c.t0)
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Errorf("t0 %g: [%d] = %g, want %g", c.t0, i, got[i], c.want[i])
			}
		}
	}
}

// img2img's run starts at t0: its steps reach t0 + (1−t0)·TimeGrid, the
// grid the page plots (the "times" of its start event).
func TestImg2ImgGrid(t *testing.T) {
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
	const t0, steps, shift = 0.4, 3, 0.3
	grid := model.TimeGrid(steps, shift)
	var ts []float64
	_, err = model.Sample(b, dit, model.SampleOptions{Classes: []int{1}, Noise: NoisedStart(model.Noise(1, 32), model.Noise(2, 32), t0),
		Steps: steps, Heun: true, CFG: 2, Schedule: sc, Shift: shift, From: t0,
		OnStep: func(s model.Step) error { ts = append(ts, s.T); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range ts {
		if want := t0 + (1-t0)*float64(grid[i+1]); math.Abs(got-want) > 1e-6 {
			t.Errorf("step %d reached t = %g, want %g", i, got, want)
		}
	}
	if len(ts) != steps {
		t.Fatalf("%d steps, want %d", len(ts), steps)
	}
}
