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
	"strconv"
	"strings"
	"time"

	"novae/model"
	"novae/model/eval"
	"novae/model/weights"
	"novae/shaders"
)

func init() {
	register(&command{
		Name:    "eval",
		Summary: "measure a model through novae: class accuracy, Fréchet distance, reconstruction PSNR, linear probes → JSON + Markdown",
		Help: `Samples -n images per step count with and without CFG (classes round-robin, the same
noise at every setting), decodes them and judges them with an independent classifier
(tools/eval/classifier_<data>.safetensors, trained on the data set's train split only by
tools/eval/train_classifier.py, run here in pure Go): class accuracy, and the Fréchet
distance to held-out images in the classifier's penultimate features (without a
classifier: the model's own DINO features, which is not independent, and says so).
Then the autoencoder round trip on held-out images (PSNR, also with the residual
channels zeroed = DINO alone) and linear probes (logistic regression) on the frozen
DINO features, the residual branch alone and raw pixels, on held-out images.

Writes -out (JSON: every number and setting), -md (the Markdown table, also printed)
and one PNG grid per setting next to the JSON (one row per class).

A model of latent kind "vae" (the VAE-latent twin) is measured the same way: its
reconstruction PSNR is the posterior mean decoded; it has no DINO-only variant and no
linear probes (reported as n/a).

-twin MODEL measures a second model beside -weights (SVG's comparison: the same DiT
on a semantic and on a VAE latent): both run -weights' sampler settings (or the flags),
draw the same noise seeds, ask for the same classes and are judged by the same
classifier against the same held-out images. -out (default compare.json) then holds
{"format": "novae-eval-pair/1", "settings", "models": [eval.json of -weights, eval.json
of -twin], "fd_between_models": the Fréchet distance between the two models' samples
per setting, "markdown"}; grids are <out>_<model name>_s<steps>_<cfg>.png. Shipped
pairs keep it as models/<name>/eval/compare.json (make test re-draws from it).

example:
  novae eval -weights models/digits/model.json -twin TWIN/model.json -data data/digits \
      -out models/digits/eval/compare.json -md models/digits/eval/compare.md

Backend: by default the pure-Go CPU path (parallel float32 kernels, checked against the
reference) unless WebGPU offers a real GPU; on a CPU rasteriser such as lavapipe the
pure-Go path is faster for these small models. -gpu or -cpu force one; -ref uses the
unmodified reference backend (slow: float64, one core).`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			weightsPath := fs.String("weights", "", "model weights: a novae .safetensors file or a sharded set's model.json (required)")
			var j judgeFlags
			j.add(fs, "1,2,4,8,25")
			n := fs.Int("n", 0, "generated images per (steps, cfg) setting (0: 10 per class; with -twin at least 200)")
			reconN := fs.Int("recon", 500, "held-out images for reconstruction PSNR (0: skip)")
			probeTrain := fs.Int("probe-train", 3000, "train images for the linear probes (0: skip the probes)")
			probeTest := fs.Int("probe-test", 1000, "held-out images the probes are scored on")
			cols := fs.Int("cols", 10, "images per class in each grid")
			out := fs.String("out", "", "JSON results (default eval.json, with -twin compare.json); grids are written beside it as <name>_s<steps>_cfg<w>.png (with -twin <name>_<model>_s…)")
			twin := fs.String("twin", "", "a second model (e.g. the VAE-latent twin's model.json) measured beside -weights: same settings, seeds, classes and judge; writes both reports and the comparison to one JSON")
			md := fs.String("md", "", "also write the Markdown table to this file")
			noGrids := fs.Bool("no-grids", false, "do not write the PNG grids")
			return func(args []string, stdout io.Writer) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *weightsPath == "" {
					return usagef("-weights and -data are required")
				}
				steps, err := j.check()
				if err != nil {
					return err
				}
				if *n < 0 || *reconN < 0 || *probeTrain < 0 || *probeTest < 1 || *cols < 1 {
					return usagef("-probe-test and -cols must be ≥ 1, -n, -recon and -probe-train ≥ 0")
				}
				if *twin != "" && j.clf == "none" {
					return usagef("-twin needs a classifier: both models are judged by the same one")
				}
				if *out == "" {
					*out = "eval.json"
					if *twin != "" {
						*out = "compare.json"
					}
				}
				var log io.Writer = os.Stderr
				if j.quiet {
					log = nil
				}
				logf := func(format string, a ...any) {
					if log != nil {
						fmt.Fprintf(log, format, a...)
					}
				}
				start := time.Now()
				b, why, err := evalBackend(j.cpu, j.gpu, j.ref)
				if err != nil {
					return err
				}
				logf("backend: %s (%s)\n", b.Name(), why)
				needEnc := *reconN > 0 || *probeTrain > 0
				em, err := openEvalModel(b, *weightsPath, needEnc)
				if err != nil {
					return err
				}
				defer em.wf.Close()
				var tw *evalModel
				if *twin != "" {
					if tw, err = openEvalModel(b, *twin, *reconN > 0); err != nil {
						return err
					}
					defer tw.wf.Close()
				}
				cfg := em.cfg
				ds, err := eval.LoadDataset(j.data)
				if err != nil {
					return err
				}
				var c *eval.Classifier
				clfPath := j.clf
				if clfPath == "" {
					p := filepath.Join("tools", "eval", "classifier_"+ds.Name+".safetensors")
					if _, err := os.Stat(p); err == nil {
						clfPath = p
					} else if tw != nil {
						return fmt.Errorf("no classifier at %s: -twin needs one (-classifier FILE)", p)
					} else {
						logf("no classifier at %s: no class accuracy; Fréchet distance in the model's own DINO features\n", p)
					}
				}
				if clfPath != "" && clfPath != "none" {
					if c, err = eval.LoadClassifier(clfPath); err != nil {
						return err
					}
				}
				d, sched, err := samplerSettings(cfg.Defaults, j.cfg, j.shift, j.schedule)
				if err != nil {
					return err
				}
				if *n == 0 {
					*n = 10 * len(ds.Classes)
					if tw != nil {
						*n = max(*n, 200) // the comparison's n ≥ 200 per setting
					}
				}
				opt := eval.Options{Model: em.m, Backend: b, Data: ds, Classifier: c, Steps: steps, N: *n, CFG: d.CFG,
					Shift: d.Shift, Schedule: sched, Seed: j.seed, Batch: j.batch, RealN: j.real, ReconN: *reconN,
					ProbeTrain: *probeTrain, ProbeTest: *probeTest, GridCols: *cols, Log: log}
				settings := evalSettings{Data: j.data, Seed: j.seed, N: *n, Steps: steps, CFG: d.CFG, Shift: d.Shift,
					Schedule: sched.String(), Sampler: "euler", Batch: j.batch, Backend: b.Name(), BackendChoice: why,
					ReconN: *reconN, ProbeTrain: *probeTrain, ProbeTest: *probeTest,
					Go: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU()}
				if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
					return err
				}
				base := strings.TrimSuffix(*out, filepath.Ext(*out))
				var js []byte
				var table string
				var grids int
				if tw == nil {
					rep, err := eval.Run(opt)
					if err != nil {
						return err
					}
					res := em.result(rep, settings)
					if !*noGrids {
						if grids, err = writeGrids(base, rep); err != nil {
							return err
						}
					}
					res.Settings.Seconds = time.Since(start).Seconds()
					table = evalMarkdown(res)
					res.Markdown = table
					if js, err = json.MarshalIndent(res, "", " "); err != nil {
						return err
					}
				} else {
					p, err := eval.RunPair(opt, tw.m)
					if err != nil {
						return err
					}
					ra, rb := em.result(p.A, settings), tw.result(p.B, settings)
					tagA, tagB := gridTag(em.cfg.Name), gridTag(tw.cfg.Name)
					if tagB == tagA {
						tagB += "-twin"
					}
					if !*noGrids {
						for _, v := range []struct {
							tag string
							rep *eval.Report
						}{{tagA, p.A}, {tagB, p.B}} {
							k, err := writeGrids(base+"_"+v.tag, v.rep)
							if err != nil {
								return err
							}
							grids += k
						}
					}
					secs := time.Since(start).Seconds()
					for _, r := range []*evalResult{ra, rb} {
						r.Settings.Seconds = secs
						r.Markdown = evalMarkdown(r)
					}
					pr := pairResult{Format: "novae-eval-pair/1", Date: ra.Date, Settings: ra.Settings, Models: []*evalResult{ra, rb},
						Between: p.Between}
					table = pairMarkdown(&pr)
					pr.Markdown = table
					if js, err = json.MarshalIndent(&pr, "", " "); err != nil {
						return err
					}
				}
				if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
					return err
				}
				if *md != "" {
					if err := os.WriteFile(*md, []byte(table), 0o644); err != nil {
						return err
					}
				}
				fmt.Fprint(stdout, table)
				fmt.Fprintf(stdout, "\nwrote %s", *out)
				if *md != "" {
					fmt.Fprintf(stdout, ", %s", *md)
				}
				if !*noGrids {
					fmt.Fprintf(stdout, " and %d grids", grids)
				}
				fmt.Fprintf(stdout, " (%.0fs on %s)\n", time.Since(start).Seconds(), b.Name())
				return nil
			}
		},
	})
}

// evalModel is one model file opened for evaluation.
type evalModel struct {
	path, sum string
	wf        *weights.File
	cfg       model.Config
	m         *model.SVG
}

// openEvalModel opens a model with its encoders; needEnc: refuse a file
// without them.
func openEvalModel(b model.Backend, path string, needEnc bool) (*evalModel, error) {
	wf, err := weights.Open(path)
	if err != nil {
		return nil, err
	}
	em := &evalModel{path: path, wf: wf}
	fail := func(err error) (*evalModel, error) {
		wf.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if em.cfg, err = model.ParseConfig(wf.Metadata()); err != nil {
		return fail(err)
	}
	if em.m, err = model.Open(b, model.FileSource{F: wf}, em.cfg, true); err != nil {
		return fail(err)
	}
	if needEnc && em.m.Dino == nil && em.m.VAE == nil {
		return fail(fmt.Errorf("no encoders: reconstruction and probes need them (-recon 0 -probe-train 0 to skip)"))
	}
	if em.sum, _, err = fileSHA256(path); err != nil {
		return fail(err)
	}
	return em, nil
}

// result wraps a report with the model's description and the settings.
func (em *evalModel) result(rep *eval.Report, st evalSettings) *evalResult {
	res := &evalResult{Format: "novae-eval/1", Date: time.Now().UTC().Format(time.RFC3339), Report: rep}
	res.Model.Weights, res.Model.SHA256, res.Model.Name = em.path, em.sum, em.cfg.Name
	res.Model.Latent = em.cfg.LatentKind()
	res.Model.Image, res.Model.Quant = em.cfg.Image, em.wf.Metadata()["quant"]
	res.Model.Classes = em.cfg.Classes
	res.Settings = st
	res.Settings.RealN = rep.Real.HeldoutN
	if rep.Probe == nil {
		res.Settings.ProbeTrain, res.Settings.ProbeTest = 0, 0
	}
	return res
}

// writeGrids writes one PNG per setting as <base>_s<steps>_<cfg>.png and
// names it in the report.
func writeGrids(base string, rep *eval.Report) (int, error) {
	for i, g := range rep.Grids {
		name := fmt.Sprintf("%s_s%d_%s.png", base, g.Steps, cfgTag(g.CFG))
		if err := writeGrid(name, g.Images.ToRGBA8(), g.Images.N, g.Images.H, g.Cols); err != nil {
			return i, err
		}
		rep.Generation[i].Grid = filepath.Base(name)
	}
	return len(rep.Grids), nil
}

// gridTag is a model name fit for a file name.
func gridTag(name string) string {
	t := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, name)
	if t == "" {
		t = "model"
	}
	return t
}

// pairResult is the JSON file of a pair: each model's eval.json object
// (format novae-eval/1) under "models", measured on the same draws.
type pairResult struct {
	Format   string         `json:"format"`
	Date     string         `json:"date"`
	Settings evalSettings   `json:"settings"`
	Models   []*evalResult  `json:"models"`
	Between  []eval.Between `json:"fd_between_models"`
	Markdown string         `json:"markdown"`
}

// evalResult is the JSON file.
type evalResult struct {
	Format string `json:"format"`
	Date   string `json:"date"`
	Model  struct {
		Weights string   `json:"weights"`
		SHA256  string   `json:"sha256"` // of the file given (a sharded set's manifest lists its shards' sha256)
		Name    string   `json:"name"`
		Latent  string   `json:"latent"` // "svg" or "vae"
		Image   int      `json:"image"`
		Classes []string `json:"classes"`
		Quant   string   `json:"quant,omitempty"`
	} `json:"model"`
	Settings evalSettings `json:"settings"`
	*eval.Report
	Markdown string `json:"markdown"`
}

type evalSettings struct {
	Data          string  `json:"data"`
	Seed          uint64  `json:"seed"`
	N             int     `json:"n"`
	Steps         []int   `json:"steps"`
	CFG           float64 `json:"cfg"`
	Shift         float64 `json:"shift"`
	Schedule      string  `json:"schedule"`
	Sampler       string  `json:"sampler"`
	Batch         int     `json:"batch"`
	Backend       string  `json:"backend"`
	BackendChoice string  `json:"backend_choice"`
	RealN         int     `json:"real_n"`
	ReconN        int     `json:"recon_n"`
	ProbeTrain    int     `json:"probe_train_n"`
	ProbeTest     int     `json:"probe_test_n"`
	Go            string  `json:"go"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
	CPUs          int     `json:"cpus"`
	Seconds       float64 `json:"seconds"`
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// evalBackend picks the backend and says why.
func evalBackend(cpu, gpu, refB bool) (model.Backend, string, error) {
	switch {
	case refB:
		return model.CPU{}, "-ref", nil
	case cpu:
		return eval.FastCPU{}, "-cpu", nil
	}
	e, err := shaders.New(shaders.Options{})
	if err != nil {
		if gpu {
			return nil, "", err
		}
		return eval.FastCPU{}, "default: no WebGPU device (" + err.Error() + ")", nil
	}
	if gpu {
		return model.NewGPU(e), "-gpu", nil
	}
	if strings.Contains(e.Adapter, "[cpu,") {
		return eval.FastCPU{}, "default: the WebGPU adapter " + e.Adapter + " is a CPU rasteriser, slower than pure Go here; -gpu to use it", nil
	}
	return model.NewGPU(e), "default: WebGPU on a GPU; -cpu for pure Go", nil
}

func parseSteps(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 || v > 1000 {
			return nil, fmt.Errorf("-steps: %q is not a step count in 1..1000", p)
		}
		out = append(out, v)
	}
	return out, nil
}

func cfgTag(w float64) string {
	if w <= 1 {
		return "nocfg"
	}
	return "cfg" + strconv.FormatFloat(w, 'g', -1, 64)
}

// evalMarkdown renders the README table.
func evalMarkdown(r *evalResult) string {
	var sb strings.Builder
	rep, st := r.Report, r.Settings
	short := r.Model.SHA256
	if len(short) > 12 {
		short = short[:12]
	}
	fmt.Fprintf(&sb, "Measured by `novae eval` on %s (weights sha256 %s…), %s: n = %d generated images per setting "+
		"(classes round-robin, seed %d), Euler, shift %g, guided runs at %s; %s; %.0f s.\n\n",
		r.Model.Name, short, st.Data, st.N, st.Seed, st.Shift, cfgLabel(st.CFG), st.Backend, st.Seconds)
	var guided []float64
	seen := map[float64]bool{}
	for _, g := range rep.Generation {
		if !seen[g.CFG] {
			seen[g.CFG] = true
			guided = append(guided, g.CFG)
		}
	}
	hasAcc := rep.Classifier != nil
	sb.WriteString("| steps |")
	if hasAcc {
		for _, w := range guided {
			fmt.Fprintf(&sb, " class accuracy, %s |", cfgLabel(w))
		}
	}
	for _, w := range guided {
		fmt.Fprintf(&sb, " FD, %s |", cfgLabel(w))
	}
	sb.WriteString("\n|---|")
	cols := len(guided)
	if hasAcc {
		cols *= 2
	}
	sb.WriteString(strings.Repeat("---|", cols) + "\n")
	bySteps := map[int]map[float64]eval.GenResult{}
	var order []int
	for _, g := range rep.Generation {
		if bySteps[g.Steps] == nil {
			bySteps[g.Steps] = map[float64]eval.GenResult{}
			order = append(order, g.Steps)
		}
		bySteps[g.Steps][g.CFG] = g
	}
	for _, s := range order {
		fmt.Fprintf(&sb, "| %d |", s)
		if hasAcc {
			for _, w := range guided {
				g := bySteps[s][w]
				if g.Accuracy != nil {
					fmt.Fprintf(&sb, " %.1f%% |", 100**g.Accuracy)
				} else {
					sb.WriteString(" |")
				}
			}
		}
		for _, w := range guided {
			fmt.Fprintf(&sb, " %.2f |", bySteps[s][w].FD)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("| real images |")
	if hasAcc {
		fmt.Fprintf(&sb, " %.1f%% (held-out) |", 100*rep.Classifier.RealAccuracyGo)
		sb.WriteString(strings.Repeat(" |", len(guided)-1))
	}
	fmt.Fprintf(&sb, " %.2f (%d train vs held-out) |", rep.Real.FDTrainVsHeldout, rep.Real.FloorN)
	sb.WriteString(strings.Repeat(" |", len(guided)-1) + "\n\n")
	fmt.Fprintf(&sb, "FD: Fréchet distance to %d held-out images in the %s.", rep.Real.HeldoutN, rep.FeatureSpace)
	if hasAcc {
		sb.WriteString(" Class accuracy: the classifier's argmax equals the requested class")
		if a := rep.Classifier.TestAccuracy; a > 0 {
			fmt.Fprintf(&sb, " (classifier: %.2f%% on the whole held-out split in PyTorch)", 100*a)
		}
		sb.WriteString(".")
	}
	sb.WriteString("\n")
	if rep.Reconstruction != nil || rep.Probe != nil || rep.ProbeNA != "" {
		sb.WriteString("\n| autoencoder and encoder (held-out images) | |\n|---|---|\n")
		if rc := rep.Reconstruction; rc != nil {
			fmt.Fprintf(&sb, "| reconstruction PSNR (%d images) | %.2f dB |\n", rc.N, rc.PSNR)
			if rc.PSNRDinoOnly != nil {
				fmt.Fprintf(&sb, "| reconstruction PSNR, DINO channels only (residual zeroed) | %.2f dB |\n", *rc.PSNRDinoOnly)
			}
		}
		if p := rep.Probe; p != nil {
			var kc, kd, kp string // kNN beside the probe, where measured
			if k := p.KNN; k != nil {
				kc, kd, kp = fmt.Sprintf(" (kNN %.1f%%)", 100*k.DinoClass), fmt.Sprintf(" (kNN %.1f%%)", 100*k.Dino), fmt.Sprintf(" (kNN %.1f%%)", 100*k.Pixels)
			}
			if c := p.DinoClass; c != nil {
				fmt.Fprintf(&sb, "| linear probe, frozen DINO class token (%d-d) | %.1f%%%s |\n", c.Dim, 100*c.TestAcc, kc)
			}
			fmt.Fprintf(&sb, "| linear probe, frozen DINO patch tokens mean-pooled (%d-d) | %.1f%%%s |\n", p.Dino.Dim, 100*p.Dino.TestAcc, kd)
			if c := p.DinoBoth; c != nil {
				fmt.Fprintf(&sb, "| linear probe, class token and pooled patches (%d-d) | %.1f%% |\n", c.Dim, 100*c.TestAcc)
			}
			fmt.Fprintf(&sb, "| linear probe, residual branch alone (%d-d) | %.1f%% |\n", p.Residual.Dim, 100*p.Residual.TestAcc)
			fmt.Fprintf(&sb, "| linear probe, raw pixels (%d-d) | %.1f%%%s |\n", p.Pixels.Dim, 100*p.Pixels.TestAcc, kp)
		}
		if rep.ProbeNA != "" {
			fmt.Fprintf(&sb, "| linear probes | %s |\n", rep.ProbeNA)
		}
		if p := rep.Probe; p != nil {
			fmt.Fprintf(&sb, "\nProbes: logistic regression on frozen features, %d train / %d held-out images; kNN: weighted cosine, k = 20, T = 0.07, the same train images as memory.\n", p.Dino.TrainN, p.Dino.TestN)
		}
	}
	return sb.String()
}

func cfgLabel(w float64) string {
	if w <= 1 {
		return "no CFG"
	}
	return fmt.Sprintf("CFG %g", w)
}

// pairMarkdown renders the comparison: per step count, each model's class
// accuracy and FD with and without CFG, then the autoencoders.
func pairMarkdown(p *pairResult) string {
	var sb strings.Builder
	a, b := p.Models[0], p.Models[1]
	st := p.Settings
	label := func(r *evalResult) string {
		return fmt.Sprintf("%s (%s latent)", r.Model.Name, strings.ToUpper(r.Model.Latent))
	}
	fmt.Fprintf(&sb, "Measured by `novae eval -twin` on %s and %s, %s: n = %d generated images per setting and model "+
		"(the same noise seeds and classes for both, classes round-robin, seed %d), Euler, shift %g, guided runs at %s; %s; %.0f s.\n\n",
		label(a), label(b), st.Data, st.N, st.Seed, st.Shift, cfgLabel(st.CFG), st.Backend, st.Seconds)
	type key struct {
		steps int
		cfg   float64
	}
	ga, gb := map[key]eval.GenResult{}, map[key]eval.GenResult{}
	var order []int
	var cfgs []float64
	seenS, seenC := map[int]bool{}, map[float64]bool{}
	for i, g := range a.Generation {
		ga[key{g.Steps, g.CFG}], gb[key{g.Steps, g.CFG}] = g, b.Generation[i]
		if !seenS[g.Steps] {
			seenS[g.Steps] = true
			order = append(order, g.Steps)
		}
		if !seenC[g.CFG] {
			seenC[g.CFG] = true
			cfgs = append(cfgs, g.CFG)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(cfgs))) // guided first
	na, nb := a.Model.Name, b.Model.Name
	sb.WriteString("| steps |")
	for _, w := range cfgs {
		fmt.Fprintf(&sb, " accuracy %s, %s | accuracy %s, %s |", na, cfgLabel(w), nb, cfgLabel(w))
	}
	for _, w := range cfgs {
		fmt.Fprintf(&sb, " FD %s, %s | FD %s, %s |", na, cfgLabel(w), nb, cfgLabel(w))
	}
	sb.WriteString("\n|---|" + strings.Repeat("---|", 4*len(cfgs)) + "\n")
	acc := func(g eval.GenResult) string {
		if g.Accuracy == nil {
			return " |"
		}
		return fmt.Sprintf(" %.1f%% |", 100**g.Accuracy)
	}
	for _, s := range order {
		fmt.Fprintf(&sb, "| %d |", s)
		for _, w := range cfgs {
			sb.WriteString(acc(ga[key{s, w}]) + acc(gb[key{s, w}]))
		}
		for _, w := range cfgs {
			fmt.Fprintf(&sb, " %.2f | %.2f |", ga[key{s, w}].FD, gb[key{s, w}].FD)
		}
		sb.WriteString("\n")
	}
	if c := a.Classifier; c != nil {
		fmt.Fprintf(&sb, "\nReal held-out images: class accuracy %.1f%%; FD floor %.2f (%d train vs %d held-out). ",
			100*c.RealAccuracyGo, a.Real.FDTrainVsHeldout, a.Real.FloorN, a.Real.HeldoutN)
	}
	fmt.Fprintf(&sb, "FD: Fréchet distance to %d held-out images in the %s.\n", a.Real.HeldoutN, a.FeatureSpace)
	sb.WriteString("\n| autoencoder (held-out images) | " + na + " | " + nb + " |\n|---|---|---|\n")
	psnr := func(r *evalResult) string {
		if rc := r.Reconstruction; rc != nil {
			return fmt.Sprintf("%.2f dB (%d images)", rc.PSNR, rc.N)
		}
		return "not measured"
	}
	probe := func(r *evalResult) string {
		if p := r.Probe; p != nil {
			if c := p.DinoClass; c != nil {
				return fmt.Sprintf("%.1f%% class token, %.1f%% pooled patches (frozen DINO, %d-d; raw pixels %.1f%%)",
					100*c.TestAcc, 100*p.Dino.TestAcc, p.Dino.Dim, 100*p.Pixels.TestAcc)
			}
			return fmt.Sprintf("%.1f%% (frozen DINO, %d-d; raw pixels %.1f%%)", 100*p.Dino.TestAcc, p.Dino.Dim, 100*p.Pixels.TestAcc)
		}
		if r.ProbeNA != "" {
			return "n/a"
		}
		return "not measured"
	}
	fmt.Fprintf(&sb, "| reconstruction PSNR | %s | %s |\n", psnr(a), psnr(b))
	fmt.Fprintf(&sb, "| linear probe on the encoder's features | %s | %s |\n", probe(a), probe(b))
	return sb.String()
}
