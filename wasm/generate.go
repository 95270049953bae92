//go:build js

package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"novae/model"
	"novae/shaders/ref"
)

// sync waits until the GPU has finished what was submitted, so a step's
// time is its own (the CPU backend is synchronous already).
func (a *app) sync() error {
	if a.gpu != nil {
		return a.gpu.E.Sync()
	}
	return nil
}

// decode turns latents [B,T,C] into RGBA8 pixels B×S×S×4.
func (a *app) decode(z model.Tensor, B int) ([]byte, error) { return a.decodeWith(a.m, z, B) }

// decodeWith decodes with model m (the page's model or its compare twin).
func (a *app) decodeWith(m *model.SVG, z model.Tensor, B int) ([]byte, error) {
	img := m.Decode(a.b, z, B)
	defer a.b.Free(img)
	S := m.Cfg.Image
	return a.b.ToRGBA8(img, B, S, S)
}

func (a *app) setTrajectory(traj []*frame) {
	a.mu.Lock()
	a.traj = traj
	a.mu.Unlock()
}

// generate samples with the page's options, showing every step, and keeps
// the frames for the scrubber.
func (a *app) generate(id int64, raw []byte) (any, error) {
	if a.m == nil {
		return nil, errors.New("no model loaded")
	}
	if a.gen.Load() != id {
		return nil, errCanceled // a newer request came in while this one waited
	}
	c := a.m.Cfg
	o, err := ParseOptions(raw, c.DiT.NumClasses, c.Defaults, rnd)
	if err != nil {
		return nil, err
	}
	if o.Compare {
		return a.compare(id, o)
	}
	return a.sample(id, o, run{mode: "generate"})
}

// run is what differs between a generation and img2img.
type run struct {
	mode     string    // "generate" or "img2img"
	from     float64   // img2img: the flow time t0 = 1 − strength it starts at
	noise    []float32 // img2img: the noised latent at t0
	strength float64
}

// sample runs the sampler for o (and r), showing the frames its view asks
// for. Frame 0 of the trajectory is the start: the noise (t = 0), or
// img2img's noised picture at t0; then one frame per step. Each frame
// decodes only the panels the view shows, all of them in one batch.
func (a *app) sample(id int64, o Options, r run) (any, error) {
	a.setTrajectory(nil) // the scrubber never shows an older run's frames from here on
	c := a.m.Cfg
	B, T, C, S := o.Batch(), c.DiT.Grid*c.DiT.Grid, c.DiT.InChannels, c.Image
	panels := PanelsFor(o.View)
	lay := NewLayout(S, B, panels, o.Frames > 0)
	classes := make([]int, B)
	for i := range classes {
		classes[i] = o.Class
	}
	seeds := []any{}
	for i := range B {
		if o.Frames == 0 {
			seeds = append(seeds, float64(o.Seed+uint64(i)))
		}
	}
	notes := []any{}
	for _, n := range o.Notes {
		notes = append(notes, n)
	}
	sampler := "euler"
	if o.Heun {
		sampler = "heun"
	}
	times := []any{}
	for _, t := range model.TimeGrid(o.Steps, o.Shift) {
		times = append(times, r.from+(1-r.from)*float64(t))
	}
	settings := map[string]any{"run": float64(id), "mode": r.mode, "class": o.Class, "seed": float64(o.Seed), "seeds": seeds,
		"steps": o.Steps, "sampler": sampler, "cfg": o.CFG, "schedule": o.Schedule.String(), "shift": o.Shift,
		"view": o.View, "grid": o.Grid, "frames": o.Frames, "seedB": float64(o.SeedB), "notes": notes,
		"layout": layoutJS(lay), "backend": a.bootRes["backend"], "times": times, "from": r.from}
	if r.mode == "img2img" {
		settings["strength"] = r.strength
	}
	a.emit("start", settings)

	perStep := o.View != "final"
	var traj []*frame
	var stepMs, decodeMs float64
	dispatches := 0 // GPU dispatches of the last step: what bounds speed on small GPUs
	start := time.Now()
	noise := r.noise
	if noise == nil {
		noise = o.StartNoise(T * C)
	}
	// frameOf decodes the view's panels of one state (each tensor [B,T,C]).
	frameOf := func(zs map[string]model.Tensor, kind string, step int, t float64) (*frame, error) {
		px, err := a.decodePanels(panels, zs, B)
		if err != nil {
			return nil, err
		}
		return &frame{W: lay.W, H: lay.H, RGBA: lay.Compose(px), Layout: lay, Kind: kind, Step: step, Steps: o.Steps, T: t}, nil
	}
	if perStep { // frame 0: where the flow starts
		z0 := a.b.Upload(noise, B, T, C)
		zs := map[string]model.Tensor{}
		for _, p := range panels {
			zs[p] = z0
		}
		d0 := time.Now()
		f, err := frameOf(zs, "start", -1, r.from)
		a.b.Free(z0)
		if err != nil {
			return nil, err
		}
		traj = append(traj, f)
		a.show(f)
		decodeMs += ms(time.Since(d0))
	}
	last := time.Now()
	// After each completed step: a host copy of the latent (GPU only), so a
	// lost device can resume from there on a new one (recover.go).
	var doneZ []float32
	next := 0 // the first step not completed
	so := model.SampleOptions{Classes: classes, Noise: noise, Steps: o.Steps, Heun: o.Heun,
		CFG: o.CFG, Schedule: o.Schedule, Shift: o.Shift, X0: perStep && slices.Contains(panels, PanelX0), From: r.from}
	so.OnStep = func(s model.Step) error {
		if a.gen.Load() != id {
			return errCanceled
		}
		var zHost []float32
		if a.gpu != nil {
			v, err := a.b.Read(s.Z)
			if err != nil {
				return err
			}
			zHost = v
		}
		// The step's own time: on the GPU the Read above (or the sync) waited
		// for its work, so the clock covers it whatever the view.
		if perStep {
			if err := a.sync(); err != nil {
				return err
			}
		}
		sm := ms(time.Since(last))
		stepMs += sm
		dm := 0.0
		if perStep {
			d0 := time.Now()
			x0 := s.X0
			if s.T >= 1 {
				x0 = s.Z // x̂₀ = x_t + (1−t)·v is x_t at t = 1: decoded once
			}
			f, err := frameOf(map[string]model.Tensor{PanelXt: s.Z, PanelX0: x0, PanelV: s.V}, "step", s.I, s.T)
			if err != nil {
				return err
			}
			traj = append(traj, f)
			a.show(f)
			dm = ms(time.Since(d0))
			decodeMs += dm
		}
		dispatches = s.Dispatches
		a.emit("step", map[string]any{"run": float64(id), "mode": r.mode, "i": s.I, "n": s.N, "t": s.T, "ms": sm,
			"decodeMs": dm, "cfg": s.CFG, "dispatches": s.Dispatches})
		doneZ, next = zHost, s.I+1
		if a.gpu == nil {
			yield() // let the page paint between CPU steps
		}
		last = time.Now()
		return nil
	}
	// recovered reports whether err came from a lost device that has now been
	// replaced (the caller then redoes what failed); it returns the error to
	// give up with otherwise.
	recoveries := 0
	recovered := func(err error) (bool, error) {
		if a.gpu == nil || errors.Is(err, errCanceled) || recoveries >= maxRecoveries || !a.gpuLost(a.gpu.E) {
			return false, err
		}
		recoveries++
		if rerr := a.recoverGPU(err.Error()); rerr != nil {
			return false, rerr
		}
		if a.gen.Load() != id {
			return false, errCanceled
		}
		return true, nil
	}
	var z model.Tensor
	var err error
	for next < o.Steps {
		if next > 0 {
			so.Noise, so.Start = doneZ, next
		}
		z, err = model.Sample(a.b, a.m.DiT, so)
		if err == nil {
			break
		}
		again, err := recovered(err)
		if !again {
			if errors.Is(err, errCanceled) {
				a.setTrajectory(traj)
				a.emit("canceled", map[string]any{"run": float64(id), "steps": next, "frames": len(traj)})
			}
			return nil, err
		}
		a.emit("resumed", map[string]any{"run": float64(id), "from": next, "steps": o.Steps})
		last = time.Now()
	}
	if !perStep {
		if z == nil { // the device was lost after the last step: its latent is on the host
			z = a.b.Upload(doneZ, B, T, C)
		}
		err := a.sync()
		d0 := time.Now()
		var px []byte
		if err == nil {
			px, err = a.decode(z, B)
		}
		for err != nil {
			again, rerr := recovered(err)
			if !again {
				return nil, rerr
			}
			z = a.b.Upload(doneZ, B, T, C) // the final latent, kept on the host
			px, err = a.decode(z, B)
		}
		imgs := map[string][]byte{}
		for _, p := range panels {
			imgs[p] = px // at t = 1, x_t = x̂₀
		}
		f := &frame{W: lay.W, H: lay.H, RGBA: lay.Compose(imgs), Layout: lay, Kind: "final",
			Step: o.Steps - 1, Steps: o.Steps, T: 1}
		traj = append(traj, f)
		a.show(f)
		decodeMs = ms(time.Since(d0))
	}
	a.setTrajectory(traj)
	total := ms(time.Since(start))
	done := map[string]any{"run": float64(id), "mode": r.mode, "ms": total, "msPerStep": stepMs / float64(o.Steps),
		"decodeMs": decodeMs, "steps": o.Steps, "frames": len(traj), "settings": settings,
		"dispatchesPerStep": dispatches}
	a.emit("done", done)
	return done, nil
}

// decodePanels decodes the latents of the panels (each [B,T,C]) in one
// batch and returns each panel's B×S×S×4 pixels; panels that share a
// tensor (x_t = x̂₀ at t = 1, or the start frame) are decoded once.
func (a *app) decodePanels(panels []string, zs map[string]model.Tensor, B int) (map[string][]byte, error) {
	return a.decodePanelsWith(a.m, panels, zs, B)
}

// decodePanelsWith is decodePanels with model m.
func (a *app) decodePanelsWith(m *model.SVG, panels []string, zs map[string]model.Tensor, B int) (map[string][]byte, error) {
	var uniq []model.Tensor
	slot := map[string]int{}
	for _, p := range panels {
		z := zs[p]
		k := slices.Index(uniq, z)
		if k < 0 {
			k = len(uniq)
			uniq = append(uniq, z)
		}
		slot[p] = k
	}
	z := uniq[0]
	if len(uniq) > 1 {
		T, C := m.Cfg.DiT.Grid*m.Cfg.DiT.Grid, m.Cfg.DiT.InChannels
		n := B * T * C
		z = a.b.Alloc(len(uniq)*B, T, C)
		defer a.b.Free(z)
		for k, u := range uniq {
			a.b.CopyRegion(z, k*n, u, 0, n)
		}
	}
	px, err := a.decodeWith(m, z, len(uniq)*B)
	if err != nil {
		return nil, err
	}
	S := m.Cfg.Image
	out := map[string][]byte{}
	for p, k := range slot {
		out[p] = px[k*B*S*S*4 : (k+1)*B*S*S*4]
	}
	return out, nil
}

// encode maps an S×S RGBA image to the latent and shows the input, the
// latent as a PCA colour image (an SVG latent's DINO features; a VAE
// latent's channels), and the reconstruction through the decoder.
func (a *app) encode(rgba []byte) (any, error) {
	if a.m == nil {
		return nil, errors.New("no model loaded")
	}
	if !hasEncoders(a.m) {
		return nil, errors.New("this model file has no encoders (convert it with the autoencoder checkpoint)")
	}
	c := a.m.Cfg
	S, E, G, C := c.Image, a.m.EncoderImage(), c.DiT.Grid, c.DiT.InChannels
	if len(rgba) != E*E*4 {
		return nil, fmt.Errorf("encode: %d bytes, want %d×%d×4 = %d", len(rgba), E, E, E*E*4)
	}
	if g := c.EncoderGrid(); g != G {
		return nil, fmt.Errorf("encode: the encoders make a %d×%d token grid and the DiT samples %d×%d: this model's latents cannot be sampled from or decoded here", g, g, G, G)
	}
	a.setTrajectory(nil)
	start := time.Now()
	x := make([]float32, 3*E*E)
	mean, std := c.InputNorm() // ImageNet's for DINO, [-1,1] for the VAE
	ref.FromRGBA8(x, rgba, 1, E, E, mean, std)
	img := a.b.Upload(x, 1, 3, E, E)
	lat, err := a.m.Encode(a.b, img, 1)
	a.b.Free(img)
	if err != nil {
		return nil, err
	}
	v, err := a.b.Read(lat)
	if err != nil {
		return nil, err
	}
	rec, err := a.decode(lat, 1)
	a.b.Free(lat)
	if err != nil {
		return nil, err
	}
	Cd := C // the channels shown: the DINO features of an SVG latent, all of a VAE latent
	if a.m.Dino != nil {
		Cd = a.m.Dino.Cfg.Dim
	}
	feat := make([]float32, 0, G*G*Cd)
	for t := range G * G {
		feat = append(feat, v[t*C:t*C+Cd]...)
	}
	pca := Upscale(PCAColors(feat, G*G, Cd), G, S)
	lay := NewLayout(S, 1, []string{"input", "pca", "recon"}, true)
	in := Resample(opaque(rgba), E, S) // shown at the decoder's size
	f := &frame{W: lay.W, H: lay.H, RGBA: lay.Compose(map[string][]byte{"input": in, "pca": pca, "recon": rec}),
		Layout: lay, Kind: "encode", T: 1}
	a.show(f)
	a.setTrajectory([]*frame{f})
	a.encoded = append(a.encoded, v)
	if len(a.encoded) > 2 {
		a.encoded = a.encoded[len(a.encoded)-2:]
	}
	a.encRGBA = in
	var mse float64
	for i := range in {
		if i%4 != 3 {
			d := float64(in[i]) - float64(rec[i])
			mse += d * d
		}
	}
	out := map[string]any{"ms": ms(time.Since(start)), "tokens": G * G, "channels": C, "dino": Cd, "latent": c.LatentKind(),
		"encoded": len(a.encoded), "reconRMSE": sqrt(mse / float64(3*S*S)), "layout": layoutJS(lay)}
	a.emit("encoded", out)
	return out, nil
}

func opaque(rgba []byte) []byte {
	o := slices.Clone(rgba)
	for i := 3; i < len(o); i += 4 {
		o[i] = 255
	}
	return o
}

// img2img noises the last encoded latent x to time t0 = 1 − strength,
// z = (1−t0)·ε + t0·x, and runs the sampler from t0 to 1 (SDEdit for
// rectified flow) with the page's sampler, schedule and view: its frame 0 is
// that noised picture.
func (a *app) img2img(id int64, raw []byte) (any, error) {
	if a.m == nil || len(a.encoded) == 0 {
		return nil, errors.New("img2img: encode an image first")
	}
	var r struct {
		RawOptions
		Strength *float64 `json:"strength"` // 1 − t0: how much noise is added, 0..1
	}
	if err := jsonUnmarshal(raw, &r); err != nil {
		return nil, err
	}
	strength := 0.6
	if r.Strength != nil && *r.Strength >= 0 && *r.Strength <= 1 {
		strength = *r.Strength
	}
	r.Strength = nil
	r.Grid, r.Frames = nil, nil // one picture
	base, err := jsonMarshal(r.RawOptions)
	if err != nil {
		return nil, err
	}
	c := a.m.Cfg
	o, err := ParseOptions(base, c.DiT.NumClasses, c.Defaults, rnd)
	if err != nil {
		return nil, err
	}
	if a.gen.Load() != id {
		return nil, errCanceled
	}
	T, C := c.DiT.Grid*c.DiT.Grid, c.DiT.InChannels
	t0 := min(1-strength, 0.999) // Sample starts below t = 1
	z0 := NoisedStart(a.encoded[len(a.encoded)-1], model.Noise(o.Seed, T*C), t0)
	return a.sample(id, o, run{mode: "img2img", from: t0, noise: z0, strength: strength})
}

// interpolateEncoded decodes the straight line between the last two
// encoded latents.
func (a *app) interpolateEncoded(frames int) (any, error) {
	if a.m == nil || len(a.encoded) < 2 {
		return nil, errors.New("interpolation: encode two images first")
	}
	a.setTrajectory(nil)
	c := a.m.Cfg
	T, C, S := c.DiT.Grid*c.DiT.Grid, c.DiT.InChannels, c.Image
	p, q := a.encoded[0], a.encoded[1]
	z := make([]float32, 0, frames*T*C)
	for i := range frames {
		w := float64(i) / float64(frames-1)
		for j := range p {
			z = append(z, float32((1-w)*float64(p[j])+w*float64(q[j])))
		}
	}
	start := time.Now()
	zt := a.b.Upload(z, frames, T, C)
	px, err := a.decode(zt, frames)
	a.b.Free(zt)
	if err != nil {
		return nil, err
	}
	lay := NewLayout(S, frames, []string{PanelX0}, true)
	f := &frame{W: lay.W, H: lay.H, RGBA: lay.Compose(map[string][]byte{PanelX0: px}), Layout: lay, Kind: "interp", T: 1}
	a.show(f)
	a.setTrajectory([]*frame{f})
	out := map[string]any{"ms": ms(time.Since(start)), "frames": frames, "layout": layoutJS(lay)}
	a.emit("interpolated", out)
	return out, nil
}
