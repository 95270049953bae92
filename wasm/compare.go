//go:build js

package main

// Compare mode in the worker: the twin loads like the page's model (its
// shards stream into GPU buffers through weights.js, cached and checked;
// on the CPU path into Go), and a compare run steps both samplers in lock
// step, each on its own model, so frame k of the trajectory holds step k
// of both: the scrubber moves both. The latents stay in GPU buffers; only
// the decoded pictures come back.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"novae/model"
)

// twin is the page model's VAE-latent twin.
type twin struct {
	m   *model.SVG
	src *model.GPUSource
	js  map[string]any
}

func (a *app) unloadTwin() {
	if a.twin != nil && a.twin.src != nil {
		a.twin.src.Release()
	}
	a.twin = nil
}

// loadTwin loads the model at url as the twin of the page's model and
// announces it with the "twinready" event.
func (a *app) loadTwin(url string) (any, error) {
	if a.m == nil {
		return nil, errors.New("twin: load the model first")
	}
	a.unloadTwin()
	a.twinURL = url
	m, src, mj, err := a.openModel(url)
	if err != nil {
		a.twinURL = ""
		return nil, fmt.Errorf("twin: %w", err)
	}
	if err := TwinFits(a.m.Cfg, m.Cfg); err != nil {
		if src != nil {
			src.Release()
		}
		a.twinURL = ""
		return nil, err
	}
	a.twin = &twin{m: m, src: src, js: mj}
	a.emit("twinready", mj)
	return mj, nil
}

// compare runs o on the page's model and its twin, side by side.
func (a *app) compare(id int64, o Options) (any, error) {
	if a.twin == nil {
		return nil, &OptionError{"compare", "needs the model's VAE twin, which is not loaded"}
	}
	a.setTrajectory(nil)
	ms2 := [2]*model.SVG{a.m, a.twin.m}
	S := a.m.Cfg.Image
	panels := PanelsFor(o.View)
	lay := CompareLayout(S, panels)
	sampler := "euler"
	if o.Heun {
		sampler = "heun"
	}
	times := []any{}
	for _, t := range model.TimeGrid(o.Steps, o.Shift) {
		times = append(times, float64(t))
	}
	notes := []any{}
	for _, n := range o.Notes {
		notes = append(notes, n)
	}
	settings := map[string]any{"run": float64(id), "mode": "compare", "compare": true, "twin": a.twin.m.Cfg.Name,
		"class": o.Class, "seed": float64(o.Seed), "seeds": []any{float64(o.Seed)}, "steps": o.Steps, "sampler": sampler,
		"cfg": o.CFG, "schedule": o.Schedule.String(), "shift": o.Shift, "view": o.View, "grid": 1, "frames": 0,
		"seedB": float64(o.SeedB), "notes": notes, "layout": layoutJS(lay), "backend": a.bootRes["backend"],
		"times": times, "from": 0.0}
	a.emit("start", settings)

	perStep := o.View != "final"
	start := time.Now()
	var traj []*frame
	compose := func(px [2]map[string][]byte, kind string, step int, t float64) *frame {
		return &frame{W: lay.W, H: lay.H, RGBA: lay.Compose(Side(px[0], px[1])), Layout: lay, Kind: kind, Step: step, Steps: o.Steps, T: t}
	}
	var so [2]model.SampleOptions
	var last [2]map[string][]byte // each side's panels of the last step
	var decodeMs float64
	for k, m := range ms2 {
		c := m.Cfg
		so[k] = model.SampleOptions{Classes: []int{o.Class}, Noise: o.StartNoise(c.DiT.Grid * c.DiT.Grid * c.DiT.InChannels),
			Steps: o.Steps, Heun: o.Heun, CFG: o.CFG, Schedule: o.Schedule, Shift: o.Shift,
			X0: perStep && slices.Contains(panels, PanelX0)}
	}
	if perStep { // frame 0: both noises
		d0 := time.Now()
		var px [2]map[string][]byte
		for k, m := range ms2 {
			c := m.Cfg
			z0 := a.b.Upload(so[k].Noise, 1, c.DiT.Grid*c.DiT.Grid, c.DiT.InChannels)
			zs := map[string]model.Tensor{}
			for _, p := range panels {
				zs[p] = z0
			}
			p, err := a.decodePanelsWith(m, panels, zs, 1)
			a.b.Free(z0)
			if err != nil {
				return nil, err
			}
			px[k] = p
		}
		f := compose(px, "start", -1, 0)
		traj = append(traj, f)
		a.show(f)
		decodeMs += ms(time.Since(d0))
	}

	// Lock step: the two samplers run in two goroutines that hand a token
	// back and forth, so only one touches the backend at a time. Side 0 (the
	// page's model) makes step i and hands over; side 1 (the twin) makes its
	// step i, shows the frame of both and hands back. stop, done1 and the
	// timings are touched only by the token's holder.
	to0, to1 := make(chan struct{}), make(chan struct{})
	var stop error // why the run ends early (cancel, or an error on either side)
	done1 := false // side 1 has returned from its sampler
	var z1 model.Tensor
	var stepMs [2]float64
	var lastT [2]time.Time
	var dispatches [2]int
	decodeStep := func(k int, s model.Step) error {
		if !perStep {
			return nil
		}
		d0 := time.Now()
		x0 := s.X0
		if s.T >= 1 {
			x0 = s.Z
		}
		p, err := a.decodePanelsWith(ms2[k], panels, map[string]model.Tensor{PanelXt: s.Z, PanelX0: x0, PanelV: s.V}, 1)
		decodeMs += ms(time.Since(d0))
		last[k] = p
		return err
	}
	timeStep := func(k int) (float64, error) {
		if err := a.sync(); err != nil {
			return 0, err
		}
		sm := ms(time.Since(lastT[k]))
		stepMs[k] += sm
		return sm, nil
	}
	var sm0 float64
	so[0].OnStep = func(s model.Step) error {
		if a.gen.Load() != id {
			return errCanceled
		}
		var err error
		if sm0, err = timeStep(0); err != nil {
			return err
		}
		dispatches[0] = s.Dispatches
		if err := decodeStep(0, s); err != nil {
			return err
		}
		lastT[1] = time.Now()
		to1 <- struct{}{}
		<-to0
		lastT[0] = time.Now()
		return stop // side 1 failed
	}
	so[1].OnStep = func(s model.Step) error {
		sm1, err := timeStep(1)
		if err != nil {
			return err
		}
		dispatches[1] = s.Dispatches
		if err := decodeStep(1, s); err != nil {
			return err
		}
		if perStep {
			f := compose(last, "step", s.I, s.T)
			traj = append(traj, f)
			a.show(f)
		}
		a.emit("step", map[string]any{"run": float64(id), "mode": "compare", "i": s.I, "n": s.N, "t": s.T, "ms": sm0,
			"twinMs": sm1, "decodeMs": 0.0, "cfg": s.CFG, "dispatches": dispatches[0], "twinDispatches": s.Dispatches})
		if a.gpu == nil {
			yield() // let the page paint between CPU steps
		}
		to0 <- struct{}{}
		<-to1
		lastT[1] = time.Now()
		return stop // side 0 was canceled or failed
	}
	go func() {
		<-to1
		var err error
		if stop == nil {
			z1, err = model.Sample(a.b, ms2[1].DiT, so[1])
		}
		if err != nil && stop == nil {
			stop = err
		}
		done1 = true
		to0 <- struct{}{}
	}()
	lastT[0] = time.Now()
	z0, err := model.Sample(a.b, ms2[0].DiT, so[0])
	if err != nil && stop == nil {
		stop = err
	}
	if !done1 {
		to1 <- struct{}{}
		<-to0
	}
	if stop == nil && !done1 {
		stop = errors.New("compare: the twin's sampler did not finish") // cannot happen: both run the same steps
	}
	if stop != nil {
		if z0 != nil {
			a.b.Free(z0)
		}
		if z1 != nil {
			a.b.Free(z1)
		}
		if errors.Is(stop, errCanceled) {
			a.setTrajectory(traj)
			a.emit("canceled", map[string]any{"run": float64(id), "steps": max(0, len(traj)-1), "frames": len(traj)})
		}
		return nil, stop
	}
	if !perStep {
		d0 := time.Now()
		var px [2]map[string][]byte
		for k, z := range []model.Tensor{z0, z1} {
			p, err := a.decodeWith(ms2[k], z, 1)
			if err != nil {
				return nil, err
			}
			px[k] = map[string][]byte{}
			for _, name := range panels {
				px[k][name] = p
			}
		}
		f := compose(px, "final", o.Steps-1, 1)
		traj = append(traj, f)
		a.show(f)
		decodeMs = ms(time.Since(d0))
	}
	a.b.Free(z0, z1)
	a.setTrajectory(traj)
	done := map[string]any{"run": float64(id), "mode": "compare", "ms": ms(time.Since(start)),
		"msPerStep": stepMs[0] / float64(o.Steps), "twinMsPerStep": stepMs[1] / float64(o.Steps),
		"decodeMs": decodeMs, "steps": o.Steps, "frames": len(traj), "settings": settings,
		"dispatchesPerStep": dispatches[0], "twinDispatchesPerStep": dispatches[1]}
	a.emit("done", done)
	return done, nil
}
