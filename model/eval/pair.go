package eval

// A model and its twin measured side by side (SVG's comparison: the same
// DiT on a semantic latent and on a VAE latent): both run the same
// settings, draw the same noise seeds and ask for the same classes, and are
// judged by the same classifier against the same held-out images.

import (
	"fmt"
	"slices"

	"novae/model"
)

// PairResult is RunPair's output: one Report per model (A = Options.Model,
// B = the twin) and, per setting, the Fréchet distance between the two
// models' samples.
type PairResult struct {
	A, B    *Report
	Between []Between
}

// Between is the Fréchet distance between model A's and model B's samples
// at one setting, in the judge's feature space (0 for a model paired with
// itself).
type Between struct {
	Steps int     `json:"steps"`
	CFG   float64 `json:"cfg"`
	FD    float64 `json:"fd"`
}

// RunPair runs o on o.Model and then on twin with every other option the
// same. The twins must make the same images (size, classes) and a
// classifier must judge them: the Fréchet distance in one model's own DINO
// features would not be the same judge for the other.
func RunPair(o Options, twin *model.SVG) (*PairResult, error) {
	if o.Classifier == nil {
		return nil, fmt.Errorf("eval: a pair needs a classifier (the same judge for both models)")
	}
	a, b := o.Model.Cfg, twin.Cfg
	if a.Image != b.Image || a.DiT.NumClasses != b.DiT.NumClasses {
		return nil, fmt.Errorf("eval: the twins differ: %s makes %d² images of %d classes, %s %d² of %d",
			a.Name, a.Image, a.DiT.NumClasses, b.Name, b.Image, b.DiT.NumClasses)
	}
	log := o.Log
	o.logf("== %s (latent %s)\n", a.Name, a.LatentKind())
	ra, err := Run(o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Name, err)
	}
	ob := o
	ob.Model, ob.Log = twin, log
	ob.logf("== %s (latent %s)\n", b.Name, b.LatentKind())
	rb, err := Run(ob)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name, err)
	}
	p := &PairResult{A: ra, B: rb}
	if ra.Real != rb.Real {
		return nil, fmt.Errorf("eval: the two runs saw different real references (%+v vs %+v)", ra.Real, rb.Real)
	}
	for i, ga := range ra.Generation {
		gb := rb.Generation[i]
		if ga.Steps != gb.Steps || ga.CFG != gb.CFG || ga.N != gb.N || !slices.Equal(ga.Seeds, gb.Seeds) || !slices.Equal(ga.Labels, gb.Labels) {
			return nil, fmt.Errorf("eval: setting %d drew differently: steps %d/%d cfg %g/%g n %d/%d seeds %v/%v",
				i, ga.Steps, gb.Steps, ga.CFG, gb.CFG, ga.N, gb.N, ga.Seeds, gb.Seeds)
		}
		p.Between = append(p.Between, Between{Steps: ga.Steps, CFG: ga.CFG, FD: Frechet(ra.GenFits[i], rb.GenFits[i])})
	}
	return p, nil
}
