package main

// img2img needs the sampler to start part-way, at t0 > 0. model.Sample
// always integrates from t = 0, so this is a minimal Euler integrator over
// the grid t0 + (1−t0)·TimeGrid(steps, shift), with constant CFG. It is the
// same arithmetic as model.Sample's Euler path (the test checks that at
// t0 = 0) and should move into model as SampleOptions.From.

import (
	"encoding/json"
	"math"

	"novae/model"
	"novae/shaders/ref"
)

// flowFrom integrates z0 [1,T,C] at time t0 to t = 1 with o.Steps Euler
// steps; onStep sees x_t and x̂₀ = x_t + (1−t)·v after each step.
func flowFrom(b model.Backend, m *model.DiT, z0 []float32, t0 float64, o Options,
	onStep func(i int, t float64, z, x0 model.Tensor) error) error {
	c := m.Cfg
	T, C := c.Grid*c.Grid, c.InChannels
	n := T * C
	z := b.Upload(z0, 1, T, C)
	v, vc, vu, x0 := b.Alloc(1, T, C), b.Alloc(1, T, C), b.Alloc(1, T, C), b.Alloc(1, T, C)
	defer b.Free(z, v, vc, vu, x0)
	grid := model.TimeGrid(o.Steps, o.Shift)
	ts := make([]float32, len(grid))
	for i, g := range grid {
		ts[i] = float32(t0 + (1-t0)*float64(g))
	}
	guided := o.CFG > 1
	forward := func(dst model.Tensor, t float32, class int) error {
		cond, err := m.Condition(b, []float32{t}, []int{class})
		if err != nil {
			return err
		}
		m.Forward(b, dst, z, cond)
		b.Free(cond.SiLUC)
		return nil
	}
	for i := range o.Steps {
		t, dt := ts[i], ts[i+1]-ts[i]
		if !guided {
			if err := forward(v, t, o.Class); err != nil {
				return err
			}
		} else {
			if err := forward(vc, t, o.Class); err != nil {
				return err
			}
			if err := forward(vu, t, c.NumClasses); err != nil {
				return err
			}
			w := float32(o.CFG)
			b.CFG(v, vc, vu, 1-w, w)
		}
		b.Euler(z, v, dt)
		b.CopyRegion(x0, 0, z, 0, n)
		b.Euler(x0, v, 1-ts[i+1])
		if err := b.Flush(); err != nil {
			return err
		}
		if err := onStep(i, float64(ts[i+1]), z, x0); err != nil {
			return err
		}
	}
	return nil
}

// refFromRGBA8 turns S×S RGBA pixels into the encoders' ImageNet-normalised
// [1,3,S,S] input.
func refFromRGBA8(x []float32, rgba []byte, S int) {
	ref.FromRGBA8(x, rgba, 1, S, S, ref.ImageNetMean, ref.ImageNetStd)
}

func sqrt(v float64) float64 { return math.Sqrt(v) }

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func jsonMarshal(v any) ([]byte, error)      { return json.Marshal(v) }
