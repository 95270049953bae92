package main

// Generation options as the page sends them (JSON from a form, the URL or a
// postMessage command). Everything is validated and clamped here, in one
// place, whatever the page already did: a value out of range is clamped and
// reported in Notes, a value of the wrong kind is an error.

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"novae/model"
)

// Limits of what the page may ask.
const (
	MaxSteps  = 50
	MaxGrid   = 16 // images in grid mode
	MaxFrames = 12 // interpolation frames
	MaxCFG    = 20.0
	MinShift  = 0.01
	MaxShift  = 10.0
	MaxSeed   = 1<<53 - 1 // exact in a JS number
)

// Views are what the canvas shows for each image while sampling.
var Views = []string{"both", "x0", "xt", "v", "final"}

// RawOptions is the JSON the page sends. Pointers tell "absent" (use the
// model's default) from zero.
type RawOptions struct {
	Class    *float64 `json:"class"`    // 0..classes (classes = unconditional); -1 random
	Seed     *float64 `json:"seed"`     // 0..MaxSeed; -1 random
	Steps    *float64 `json:"steps"`    // 1..MaxSteps
	Sampler  *string  `json:"sampler"`  // "euler" | "heun"
	CFG      *float64 `json:"cfg"`      // 0..MaxCFG (≤ 1: no guidance)
	Schedule *string  `json:"schedule"` // model.ParseSchedule
	Shift    *float64 `json:"shift"`    // MinShift..MaxShift
	View     *string  `json:"view"`     // Views
	Grid     *float64 `json:"grid"`     // 1..MaxGrid images, seeds seed, seed+1, …
	SeedB    *float64 `json:"seedB"`    // interpolation: the other end
	Frames   *float64 `json:"frames"`   // interpolation frames 2..MaxFrames (0: off)
}

// Options are validated generation settings.
type Options struct {
	Class    int
	Seed     uint64
	Steps    int
	Heun     bool
	CFG      float64
	Schedule model.Schedule
	Shift    float64
	View     string
	Grid     int    // images (1: a single one)
	SeedB    uint64 // interpolation end (Frames > 0)
	Frames   int
	Notes    []string // what was clamped or chosen at random
}

// ParseOptions decodes and validates page options for a model with
// numClasses classes and the given defaults; rnd supplies random seeds and
// classes.
func ParseOptions(data []byte, numClasses int, def model.SampleDefaults, rnd func() uint64) (Options, error) {
	var r RawOptions
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Options{}, fmt.Errorf("options: %v", err)
	}
	o := Options{View: "both", Grid: 1}
	num := func(name string, p *float64, def, lo, hi float64) (float64, error) {
		if p == nil {
			return def, nil
		}
		v := *p
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("options: %s is not a number", name)
		}
		if v < lo || v > hi {
			c := math.Min(math.Max(v, lo), hi)
			o.Notes = append(o.Notes, fmt.Sprintf("%s %g clamped to %g", name, v, c))
			v = c
		}
		return v, nil
	}
	integer := func(name string, p *float64, def, lo, hi int) (int, error) {
		v, err := num(name, p, float64(def), float64(lo), float64(hi))
		if err == nil && v != math.Trunc(v) {
			err = fmt.Errorf("options: %s %g is not a whole number", name, v)
		}
		return int(v), err
	}
	seed := func(name string, p *float64, def int) (uint64, error) {
		v, err := integer(name, p, def, -1, MaxSeed)
		if err != nil || v >= 0 {
			return uint64(v), err
		}
		s := rnd() % (1 << 32) // short enough to read and retype
		o.Notes = append(o.Notes, fmt.Sprintf("random %s %d", name, s))
		return s, nil
	}
	var err error
	errs := func(e error) {
		if err == nil {
			err = e
		}
	}
	var e error
	o.Class, e = integer("class", r.Class, numClasses, -1, numClasses)
	errs(e)
	if o.Class < 0 && e == nil {
		o.Class = int(rnd() % uint64(numClasses))
		o.Notes = append(o.Notes, fmt.Sprintf("random class %d", o.Class))
	}
	o.Seed, e = seed("seed", r.Seed, 0)
	errs(e)
	steps := def.Steps
	if steps < 1 {
		steps = model.OfficialDefaults.Steps
	}
	o.Steps, e = integer("steps", r.Steps, min(steps, MaxSteps), 1, MaxSteps)
	errs(e)
	if r.Sampler != nil {
		switch strings.ToLower(*r.Sampler) {
		case "euler":
		case "heun":
			o.Heun = true
		default:
			errs(fmt.Errorf("options: sampler %q is neither euler nor heun", *r.Sampler))
		}
	}
	o.CFG, e = num("cfg", r.CFG, def.CFG, 0, MaxCFG)
	errs(e)
	shift := def.Shift
	if !(shift > 0) {
		shift = model.OfficialDefaults.Shift
	}
	o.Shift, e = num("shift", r.Shift, shift, MinShift, MaxShift)
	errs(e)
	sched := def.Schedule
	if r.Schedule != nil {
		sched = *r.Schedule
	}
	if len(sched) > 40 {
		errs(fmt.Errorf("options: schedule too long"))
	} else if o.Schedule, e = model.ParseSchedule(sched); e != nil {
		errs(fmt.Errorf("options: %v", e))
	}
	if r.View != nil {
		o.View = ""
		for _, v := range Views {
			if strings.EqualFold(*r.View, v) {
				o.View = v
			}
		}
		if o.View == "" {
			errs(fmt.Errorf("options: view %q is not one of %s", *r.View, strings.Join(Views, ", ")))
		}
	}
	o.Grid, e = integer("grid", r.Grid, 1, 1, MaxGrid)
	errs(e)
	o.Frames, e = integer("frames", r.Frames, 0, 0, MaxFrames)
	errs(e)
	if o.Frames == 1 {
		o.Frames = 2
		o.Notes = append(o.Notes, "frames 1 raised to 2")
	}
	if o.Frames > 0 {
		o.SeedB, e = seed("seedB", r.SeedB, int(min(o.Seed+1, MaxSeed)))
		errs(e)
		o.Grid = 1
	}
	return o, err
}

// Batch is the number of images sampled together.
func (o Options) Batch() int {
	if o.Frames > 0 {
		return o.Frames
	}
	return o.Grid
}

// StartNoise builds the starting latent for the batch: image i of a grid
// starts from Noise(seed+i), so each cell matches a single run with that
// seed; interpolation frames walk the great circle (slerp) from Noise(seed)
// to Noise(seedB), which keeps every frame's noise norm typical.
func (o Options) StartNoise(n int) []float32 {
	B := o.Batch()
	out := make([]float32, 0, B*n)
	if o.Frames == 0 {
		for i := range B {
			out = append(out, model.Noise(o.Seed+uint64(i), n)...)
		}
		return out
	}
	a, b := model.Noise(o.Seed, n), model.Noise(o.SeedB, n)
	for i := range B {
		out = append(out, Slerp(a, b, float64(i)/float64(B-1))...)
	}
	return out
}

// Slerp interpolates on the great circle between a and b (linear when they
// are nearly parallel).
func Slerp(a, b []float32, t float64) []float32 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	cos := dot / math.Sqrt(na*nb)
	out := make([]float32, len(a))
	if math.Abs(cos) > 0.9995 || na == 0 || nb == 0 {
		for i := range a {
			out[i] = float32((1-t)*float64(a[i]) + t*float64(b[i]))
		}
		return out
	}
	th := math.Acos(cos)
	wa, wb := math.Sin((1-t)*th)/math.Sin(th), math.Sin(t*th)/math.Sin(th)
	for i := range a {
		out[i] = float32(wa*float64(a[i]) + wb*float64(b[i]))
	}
	return out
}
