package main

// Generation options as the page sends them (JSON from a form, the URL or a
// postMessage command). Everything is validated and clamped here, in one
// place, whatever the page already did: a number out of range is clamped and
// reported in Notes; a value of the wrong kind, and a class the model does
// not have, is an *OptionError naming the option.

import (
	"encoding/json"
	"errors"
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
	Compare  *bool    `json:"compare"`  // run the model's VAE twin beside it (one image each)
}

// OptionError is an option that cannot be used: its JSON name and why. The
// page's error event carries the name, so an embedder knows what to fix.
type OptionError struct {
	Option string // "class", "steps", …; "options" for the whole object
	Reason string
}

func (e *OptionError) Error() string { return "options: " + e.Option + " " + e.Reason }

// optionOf names the option a JSON decoding error is about.
func optionOf(err error) *OptionError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &OptionError{te.Field, fmt.Sprintf("must be a %s, not a %s", te.Type, te.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &OptionError{strings.Trim(name, `"`), "is not an option"}
	}
	return &OptionError{"options", fmt.Sprintf("must be a JSON object (%v)", err)}
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
	Compare  bool     // the model and its VAE twin side by side (compare.go)
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
		return Options{}, optionOf(err)
	}
	o := Options{View: "both", Grid: 1}
	num := func(name string, p *float64, def, lo, hi float64) (float64, error) {
		if p == nil {
			return def, nil
		}
		v := *p
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, &OptionError{name, "is not a number"}
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
			err = &OptionError{name, fmt.Sprintf("%g is not a whole number", v)}
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
	// A class is a name, not a quantity: one the model does not have is an
	// error, never the nearest (which would be "unconditional").
	var e error
	if r.Class != nil && (*r.Class < -1 || *r.Class > float64(numClasses)) {
		e = &OptionError{"class", fmt.Sprintf("%g is not a class of this model: 0–%d, %d for unconditional, -1 for random", *r.Class, numClasses-1, numClasses)}
	} else {
		o.Class, e = integer("class", r.Class, numClasses, -1, numClasses)
	}
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
			errs(&OptionError{"sampler", fmt.Sprintf("%q is neither euler nor heun", *r.Sampler)})
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
		errs(&OptionError{"schedule", "is too long"})
	} else if o.Schedule, e = model.ParseSchedule(sched); e != nil {
		errs(&OptionError{"schedule", strings.TrimPrefix(e.Error(), "schedule ")})
	}
	if r.View != nil {
		o.View = ""
		for _, v := range Views {
			if strings.EqualFold(*r.View, v) {
				o.View = v
			}
		}
		if o.View == "" {
			errs(&OptionError{"view", fmt.Sprintf("%q is not one of %s", *r.View, strings.Join(Views, ", "))})
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
	if r.Compare != nil && *r.Compare {
		o.Compare = true
		if o.Grid > 1 || o.Frames > 0 {
			errs(&OptionError{"compare", "shows one image per model: use grid 1 and no interpolation frames"})
		}
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
