package eval

// The convergence claim: the Fréchet distance of a DiT's samples at a few
// step counts, measured on EMA snapshots taken along its training
// (tools/train/train_dit.py --snapshot-every writes them), each decoded by
// the model's own autoencoder. Run on a model and on its VAE-latent twin it
// shows which latent a DiT learns faster.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"novae/model"
	"novae/model/convert"
)

// Snapshot is one DiT checkpoint written during training.
type Snapshot struct {
	Step int
	Path string
}

var snapshotRE = regexp.MustCompile(`^dit_step(\d+)\.(pt|safetensors|json)$`)

// FindSnapshots lists the snapshots in dir (dit_step<N>.pt, .safetensors,
// or .json: a sharded novae set's manifest), in training order.
func FindSnapshots(dir string) ([]Snapshot, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for _, e := range ents {
		m := snapshotRE.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		step, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("%s: bad step", e.Name())
		}
		out = append(out, Snapshot{Step: step, Path: filepath.Join(dir, e.Name())})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no DiT snapshots (dit_step<N>.pt) in %s: train with tools/train/train_dit.py --snapshot-every N", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	for i := 1; i < len(out); i++ {
		if out[i].Step == out[i-1].Step {
			return nil, fmt.Errorf("%s and %s hold the same step", out[i-1].Path, out[i].Path)
		}
	}
	return out, nil
}

// LoadSnapshotDiT reads a DiT checkpoint as the converter does (the state
// dict at the top or under "ema"/"model", a DataParallel "module." prefix
// dropped; PyTorch zip or safetensors; a novae weights file serves too: its
// "dit." tensors) and loads it for cfg, checking every key and shape.
func LoadSnapshotDiT(b model.Backend, path string, cfg model.DiTConfig) (*model.DiT, error) {
	ts, err := convert.ReadTensors(path)
	if err != nil {
		return nil, err
	}
	wrap := ""
	for _, w := range []string{"ema.", "model.", model.PrefixDiT} {
		for k := range ts {
			if strings.HasPrefix(k, w) {
				wrap = w
				break
			}
		}
		if wrap != "" {
			break
		}
	}
	src := model.MapSource{}
	for k, t := range ts {
		if rest, ok := strings.CutPrefix(k, wrap); ok {
			src[model.PrefixDiT+strings.TrimPrefix(rest, "module.")] = model.MapTensor{Shape: t.Shape, Data: t.Data}
		}
	}
	return loadDiT(b, src, path, cfg)
}

func loadDiT(b model.Backend, src model.MapSource, path string, cfg model.DiTConfig) (*model.DiT, error) {
	// As model.Open loads a DiT (LoadDiT's fused adaLN is the GPU's).
	d := &model.DiT{Cfg: cfg}
	if err := model.Load(b, src, model.PrefixDiT, d.Params()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.PosEmbed == nil {
		d.PosEmbed = b.Upload(model.PosEmbed2D(cfg.Hidden, cfg.Grid), 1, cfg.Grid*cfg.Grid, cfg.Hidden)
	}
	return d, b.Flush()
}

// CurvePoint is one snapshot's measurements.
type CurvePoint struct {
	Step       int         `json:"step"`
	File       string      `json:"file"`
	SHA256     string      `json:"sha256"`
	Generation []GenResult `json:"generation"`
}

// Curve measures each snapshot as the DiT of o.Model (its decoder and
// latent statistics stay): the generation part of Run at o.Steps, with
// o.CFG (and without, unless o.GuidedOnly), on the same draws for every
// snapshot. Reconstruction and probes are not measured.
func Curve(o Options, snaps []Snapshot) ([]CurvePoint, RealReference, error) {
	var pts []CurvePoint
	var real RealReference
	base := o.Model
	for i, s := range snaps {
		raw, err := os.ReadFile(s.Path)
		if err != nil {
			return nil, real, err
		}
		dit, err := LoadSnapshotDiT(o.Backend, s.Path, base.Cfg.DiT)
		if err != nil {
			return nil, real, err
		}
		m := *base
		m.DiT = dit
		so := o
		so.Model, so.ReconN, so.ProbeTrain = &m, 0, 0
		so.Log = nil
		r, err := Run(so)
		if err != nil {
			return nil, real, fmt.Errorf("%s: %w", s.Path, err)
		}
		if i == 0 {
			real = r.Real
		}
		pts = append(pts, CurvePoint{Step: s.Step, File: filepath.Base(s.Path), SHA256: fmt.Sprintf("%x", sha256.Sum256(raw)),
			Generation: r.Generation})
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s step %6d:", base.Cfg.Name, s.Step)
			for _, g := range r.Generation {
				fmt.Fprintf(o.Log, "  s%d cfg%g FD %.2f", g.Steps, g.CFG, g.FD)
				if g.Accuracy != nil {
					fmt.Fprintf(o.Log, " acc %.3f", *g.Accuracy)
				}
			}
			fmt.Fprintf(o.Log, "  (%.0fs)\n", r.Timing.Total)
		}
	}
	return pts, real, nil
}
