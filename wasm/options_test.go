package main

import (
	"errors"
	"math"
	"strings"
	"testing"

	"novae/model"
)

func fixedRnd() uint64 { return 12345678901 }

var defs = model.SampleDefaults{Steps: 4, CFG: 3, Shift: 0.3, Schedule: "linear"}

func TestParseOptionsDefaults(t *testing.T) {
	o, err := ParseOptions([]byte(`{}`), 10, defs, fixedRnd)
	if err != nil {
		t.Fatal(err)
	}
	if o.Class != 10 || o.Seed != 0 || o.Steps != 4 || o.Heun || o.CFG != 3 || o.Shift != 0.3 ||
		o.Schedule.Kind != "linear" || o.View != "both" || o.Grid != 1 || o.Frames != 0 || len(o.Notes) != 0 {
		t.Errorf("defaults: %+v", o)
	}
	// A model without defaults gets the official ones.
	o, err = ParseOptions([]byte(`{}`), 10, model.SampleDefaults{}, fixedRnd)
	if err != nil || o.Steps != model.OfficialDefaults.Steps || o.Shift != model.OfficialDefaults.Shift || o.Schedule.Kind != "constant" {
		t.Errorf("official defaults: %+v, %v", o, err)
	}
}

func TestParseOptionsClamps(t *testing.T) {
	o, err := ParseOptions([]byte(`{"class": 10, "seed": -1, "steps": 500, "cfg": 1e9, "shift": 0,
		"grid": 40, "sampler": "HEUN", "view": "X0", "schedule": "early-0.4"}`), 10, defs, fixedRnd)
	if err != nil {
		t.Fatal(err)
	}
	if o.Class != 10 || o.Seed != fixedRnd()%(1<<32) || o.Steps != MaxSteps || o.CFG != MaxCFG || o.Shift != MinShift ||
		o.Grid != MaxGrid || !o.Heun || o.View != "x0" || o.Schedule.String() != "early-0.4" {
		t.Errorf("clamped: %+v", o)
	}
	if len(o.Notes) != 5 { // seed (random), steps, cfg, shift, grid
		t.Errorf("notes: %q", o.Notes)
	}
	o, err = ParseOptions([]byte(`{"class": -1, "frames": 1, "seed": 4}`), 10, defs, fixedRnd)
	if err != nil || o.Class != int(fixedRnd()%10) || o.Frames != 2 || o.SeedB != 5 || o.Batch() != 2 {
		t.Errorf("random class, frames: %+v %v", o, err)
	}
}

// Every refusal is an *OptionError that names the option, so the page can
// tell an embedder which one to fix.
func TestParseOptionsRejects(t *testing.T) {
	for _, c := range []struct{ json, option, want string }{
		{`{"steps": 2.5}`, "steps", "whole number"},
		{`{"sampler": "ddim"}`, "sampler", "neither euler nor heun"},
		{`{"view": "<img>"}`, "view", "not one of"},
		{`{"schedule": "cubic"}`, "schedule", "unknown CFG schedule"},
		{`{"schedule": "` + strings.Repeat("x", 100) + `"}`, "schedule", "too long"},
		{`{"seed": "7"}`, "seed", "must be a float64, not a string"},
		{`{"cfg": true}`, "cfg", "not a bool"},
		{`{"evil": 1}`, "evil", "not an option"},
		{`[1]`, "options", "JSON object"},
		// A class the model lacks is not clamped to "unconditional".
		{`{"class": 11}`, "class", "11 is not a class of this model: 0–9, 10 for unconditional, -1 for random"},
		{`{"class": 99}`, "class", "not a class"},
		{`{"class": -2}`, "class", "not a class"},
		{`{"class": 2.5}`, "class", "whole number"},
	} {
		_, err := ParseOptions([]byte(c.json), 10, defs, fixedRnd)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v (%T), want an OptionError for %q saying %q", c.json, err, err, c.option, c.want)
		}
	}
	// The first refusal is reported, and nothing else is lost: a valid
	// command next to it parses.
	if _, err := ParseOptions([]byte(`{"class": 3, "steps": 2.5, "sampler": "x"}`), 10, defs, fixedRnd); err == nil || !strings.Contains(err.Error(), "steps") {
		t.Errorf("first error: %v", err)
	}
	for _, ok := range []string{`{"class": 0}`, `{"class": 10}`, `{"class": -1}`} {
		if _, err := ParseOptions([]byte(ok), 10, defs, fixedRnd); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestStartNoise(t *testing.T) {
	n := 72 * 16
	o := Options{Seed: 9, Grid: 3}
	z := o.StartNoise(n)
	for i := range 3 {
		want := model.Noise(9+uint64(i), n)
		for j := range want {
			if z[i*n+j] != want[j] {
				t.Fatalf("grid image %d differs from Noise(seed+%d) at %d", i, i, j)
			}
		}
	}
	o = Options{Seed: 9, SeedB: 10, Frames: 4}
	z = o.StartNoise(n)
	a, b := model.Noise(9, n), model.Noise(10, n)
	for j := range a {
		if z[j] != a[j] || z[3*n+j] != b[j] {
			t.Fatalf("interpolation ends differ from the seeds' noise at %d", j)
		}
	}
	// Slerp keeps the norm of independent Gaussian noise (linear mixing
	// would shrink it by ~1/√2 in the middle).
	norm := func(v []float32) float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s)
	}
	mid := norm(z[n : 2*n])
	if r := mid / norm(a); r < 0.95 || r > 1.05 {
		t.Errorf("slerp middle norm ratio %.3f", r)
	}
}
