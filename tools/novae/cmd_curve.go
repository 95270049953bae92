package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"novae/model"
	"novae/model/eval"
)

func init() {
	register(&command{
		Name:    "curve",
		Summary: "convergence curve: Fréchet distance of DiT training snapshots (a model and its twin) → JSON + PNG plot",
		Help: `Measures each DiT snapshot that tools/train/train_dit.py --snapshot-every N kept
(<run>/snapshots/dit_step<step>.pt: the EMA weights) as the DiT of -weights: the
model's own decoder and latent statistics decode its samples, which the independent
classifier judges as in novae eval (class accuracy; Fréchet distance to held-out
images in its features) at -steps, guided with the model card's CFG (and unguided
with -unguided). Every snapshot draws the same seeds and classes. The snapshots must
come from the training run whose autoencoder and latent statistics -weights holds
(a snapshot may also be a novae weights file or a sharded set's manifest named
dit_step<step>.safetensors / .json: its dit.* tensors).

-twin MODEL with -twin-snapshots DIR does the same for a second model (the
VAE-latent twin) on the same draws and judge, with -weights' sampler settings. The
plot (-png, default <out>.png) draws FD against the training step: one colour per
model, solid for the first step count, dashed for the others.

example (the README's convergence figure):
  novae curve -weights models/digits/model.json -snapshots runs/digits/dit/snapshots \
      -twin TWIN/model.json -twin-snapshots runs/digits/dit_vae/snapshots \
      -data data/digits -steps 4,25 -n 200 -out docs/convergence.json`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			weightsPath := fs.String("weights", "", "the model whose decoder and latent statistics decode the snapshots (required)")
			var j judgeFlags
			j.add(fs, "4,25")
			snapDir := fs.String("snapshots", "", "its DiT snapshots, dit_step<step>.pt (required)")
			twin := fs.String("twin", "", "a second model (the VAE-latent twin), measured on the same draws")
			twinSnap := fs.String("twin-snapshots", "", "the twin's DiT snapshots (required with -twin)")
			n := fs.Int("n", 200, "generated images per snapshot and setting")
			unguided := fs.Bool("unguided", false, "also measure the unguided runs (with a guided -cfg)")
			out := fs.String("out", "curve.json", "JSON results")
			pngPath := fs.String("png", "", "the plot (default: -out with .png)")
			return func(args []string, stdout io.Writer) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *weightsPath == "" || *snapDir == "" || j.data == "" {
					return usagef("-weights, -snapshots and -data are required")
				}
				if (*twin == "") != (*twinSnap == "") {
					return usagef("-twin and -twin-snapshots go together")
				}
				steps, err := j.check()
				if err != nil {
					return err
				}
				if *n < 2 {
					return usagef("-n must be ≥ 2")
				}
				if *pngPath == "" {
					*pngPath = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".png"
				}
				var log io.Writer = os.Stderr
				if j.quiet {
					log = nil
				}
				start := time.Now()
				type member struct {
					em    *evalModel
					snaps []eval.Snapshot
					dir   string
				}
				var ms []member
				for _, p := range [][2]string{{*weightsPath, *snapDir}, {*twin, *twinSnap}} {
					if p[0] == "" {
						continue
					}
					snaps, err := eval.FindSnapshots(p[1])
					if err != nil {
						return err
					}
					ms = append(ms, member{snaps: snaps, dir: p[1]})
				}
				b, why, err := evalBackend(j.cpu, j.gpu, j.ref)
				if err != nil {
					return err
				}
				if log != nil {
					fmt.Fprintf(log, "backend: %s (%s)\n", b.Name(), why)
				}
				for i, p := range []string{*weightsPath, *twin}[:len(ms)] {
					if ms[i].em, err = openEvalModel(b, p, false); err != nil {
						return err
					}
					defer ms[i].em.wf.Close()
				}
				ds, err := eval.LoadDataset(j.data)
				if err != nil {
					return err
				}
				clfPath := j.clf
				if clfPath == "" {
					clfPath = filepath.Join("tools", "eval", "classifier_"+ds.Name+".safetensors")
				}
				c, err := eval.LoadClassifier(clfPath)
				if err != nil {
					return fmt.Errorf("%w (the curve needs the independent classifier; -classifier FILE)", err)
				}
				cfg := ms[0].em.cfg
				d, sched, err := samplerSettings(cfg.Defaults, j.cfg, j.shift, j.schedule)
				if err != nil {
					return err
				}
				res := curveResult{Format: "novae-curve/1", Date: time.Now().UTC().Format(time.RFC3339), Plot: filepath.Base(*pngPath)}
				res.Settings = curveSettings{Data: j.data, Seed: j.seed, N: *n, Steps: steps, CFG: d.CFG, Unguided: *unguided || d.CFG <= 1,
					Shift: d.Shift, Schedule: sched.String(), Sampler: "euler", Batch: j.batch, Backend: b.Name(), BackendChoice: why,
					Go: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
				for _, mb := range ms {
					if len(mb.snaps) < 5 && log != nil {
						fmt.Fprintf(log, "note: %s has %d snapshots; the convergence claim wants at least 5 points per model\n", mb.dir, len(mb.snaps))
					}
					o := eval.Options{Model: mb.em.m, Backend: b, Data: ds, Classifier: c, Steps: steps, N: *n, CFG: d.CFG,
						GuidedOnly: !*unguided, Shift: d.Shift, Schedule: sched, Seed: j.seed, Batch: j.batch, RealN: j.real, Log: log}
					pts, real, err := eval.Curve(o, mb.snaps)
					if err != nil {
						return err
					}
					res.Real = real
					cm := curveModel{Name: mb.em.cfg.Name, Latent: mb.em.cfg.LatentKind(), Weights: mb.em.path, SHA256: mb.em.sum,
						Snapshots: mb.dir, Points: pts}
					res.Models = append(res.Models, cm)
				}
				res.FeatureSpace = fmt.Sprintf("penultimate layer (%d-d, after ReLU) of the independent CNN classifier %s", c.Arch.Hidden, c.Path)
				res.Settings.Seconds = time.Since(start).Seconds()
				plot := curvePlot(&res)
				if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
					return err
				}
				if err := os.MkdirAll(filepath.Dir(*pngPath), 0o755); err != nil {
					return err
				}
				if err := plot.WritePNG(*pngPath); err != nil {
					return err
				}
				res.Markdown = curveMarkdown(&res)
				js, err := json.MarshalIndent(&res, "", " ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprint(stdout, res.Markdown)
				fmt.Fprintf(stdout, "\nwrote %s and %s (%.0fs on %s)\n", *out, *pngPath, res.Settings.Seconds, b.Name())
				return nil
			}
		},
	})
}

// curveResult is the JSON file of `novae curve`.
type curveResult struct {
	Format       string             `json:"format"` // novae-curve/1
	Date         string             `json:"date"`
	Settings     curveSettings      `json:"settings"`
	FeatureSpace string             `json:"feature_space"`
	Real         eval.RealReference `json:"real_reference"`
	Models       []curveModel       `json:"models"`
	Plot         string             `json:"plot"`
	Markdown     string             `json:"markdown"`
}

type curveSettings struct {
	Data          string  `json:"data"`
	Seed          uint64  `json:"seed"`
	N             int     `json:"n"`
	Steps         []int   `json:"steps"`
	CFG           float64 `json:"cfg"`
	Unguided      bool    `json:"unguided"`
	Shift         float64 `json:"shift"`
	Schedule      string  `json:"schedule"`
	Sampler       string  `json:"sampler"`
	Batch         int     `json:"batch"`
	Backend       string  `json:"backend"`
	BackendChoice string  `json:"backend_choice"`
	Go            string  `json:"go"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
	Seconds       float64 `json:"seconds"`
}

type curveModel struct {
	Name      string            `json:"name"`
	Latent    string            `json:"latent"`
	Weights   string            `json:"weights"` // decoder and latent statistics
	SHA256    string            `json:"sha256"`
	Snapshots string            `json:"snapshots"`
	Points    []eval.CurvePoint `json:"points"`
}

// plotCFG is the guidance of the plotted runs: the guided ones if any.
func plotCFG(r *curveResult) float64 {
	if r.Settings.CFG > 1 {
		return r.Settings.CFG
	}
	return 1
}

// curvePlot: FD against the training step, one colour per model, solid
// for the first step count and dashed for the others.
func curvePlot(r *curveResult) *eval.Plot {
	w := plotCFG(r)
	p := &eval.Plot{W: 640, H: 360, XLabel: "DiT training step", YLabel: "FD (lower is better)",
		Title: fmt.Sprintf("FD vs training step: n = %d, %s, Euler", r.Settings.N, cfgLabel(w))}
	for mi, m := range r.Models {
		col := eval.ColorSVG
		if m.Latent == model.LatentVAE || (mi > 0 && r.Models[0].Latent != model.LatentVAE) {
			col = eval.ColorVAE
		}
		for si, s := range r.Settings.Steps {
			sr := eval.Series{Label: fmt.Sprintf("%s (%s), %d steps", m.Name, strings.ToUpper(m.Latent), s), Color: col, Dashed: si > 0}
			for _, pt := range m.Points {
				for _, g := range pt.Generation {
					if g.Steps == s && g.CFG == w {
						sr.X, sr.Y = append(sr.X, float64(pt.Step)), append(sr.Y, g.FD)
					}
				}
			}
			p.Series = append(p.Series, sr)
		}
	}
	return p
}

// curveMarkdown: one row per training step, FD per model and step count.
func curveMarkdown(r *curveResult) string {
	var sb strings.Builder
	w := plotCFG(r)
	st := r.Settings
	fmt.Fprintf(&sb, "Measured by `novae curve`, %s: n = %d per snapshot and setting (same seeds and classes everywhere, seed %d), "+
		"Euler, shift %g, %s; FD to %d held-out images in the %s; %s; %.0f s.\n\n",
		st.Data, st.N, st.Seed, st.Shift, cfgLabel(w), r.Real.HeldoutN, r.FeatureSpace, st.Backend, st.Seconds)
	stepSet := map[int]bool{}
	fd := map[[3]int]float64{} // model, train step, sampling steps
	for mi, m := range r.Models {
		for _, pt := range m.Points {
			stepSet[pt.Step] = true
			for _, g := range pt.Generation {
				if g.CFG == w {
					fd[[3]int{mi, pt.Step, g.Steps}] = g.FD
				}
			}
		}
	}
	var trainSteps []int
	for s := range stepSet {
		trainSteps = append(trainSteps, s)
	}
	sort.Ints(trainSteps)
	sb.WriteString("| DiT training step |")
	for _, m := range r.Models {
		for _, s := range st.Steps {
			fmt.Fprintf(&sb, " FD %s, %d steps |", m.Name, s)
		}
	}
	sb.WriteString("\n|---|" + strings.Repeat("---|", len(r.Models)*len(st.Steps)) + "\n")
	for _, ts := range trainSteps {
		fmt.Fprintf(&sb, "| %d |", ts)
		for mi := range r.Models {
			for _, s := range st.Steps {
				if v, ok := fd[[3]int{mi, ts, s}]; ok {
					fmt.Fprintf(&sb, " %.2f |", v)
				} else {
					sb.WriteString(" |")
				}
			}
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "\nReal images: FD floor %.2f (%d train vs %d held-out).\n", r.Real.FDTrainVsHeldout, r.Real.FloorN, r.Real.HeldoutN)
	return sb.String()
}
