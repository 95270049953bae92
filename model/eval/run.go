// Package eval measures a novae SVG model through the novae runtime itself
// (model.Sample, SVG.Decode, SVG.Encode on a model.Backend): class accuracy
// of generated samples judged by an independent classifier, a Fréchet
// distance to held-out images in a stated feature space, autoencoder
// reconstruction PSNR (with and without the residual channels) and linear
// probes on the frozen encoder's features. A model of latent kind "vae" (the
// VAE-latent twin) is measured the same way, except that it has no residual
// channels to zero and no frozen semantic encoder to probe. RunPair measures
// a model and its twin on the same draws with the same judge (pair.go);
// Curve measures DiT snapshots along training (curve.go). `novae eval` and
// `novae curve` are their command lines.
package eval

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"novae/model"
)

// Options are everything an evaluation depends on.
type Options struct {
	Model      *model.SVG
	Backend    model.Backend
	Data       *Dataset
	Classifier *Classifier // nil: no class accuracy; FD in the model's own DINO space

	Steps []int   // step counts to sample at
	N     int     // generated images per (steps, cfg) setting, classes round-robin
	CFG   float64 // guidance scale for the guided runs (≤ 1: unguided runs only)
	// GuidedOnly leaves out the unguided runs when CFG > 1.
	GuidedOnly bool
	Shift      float64
	Schedule   model.Schedule
	Seed       uint64
	Batch      int // images per Sample call

	RealN      int // held-out images the generated ones are compared with (FD)
	ReconN     int // held-out images for reconstruction PSNR (0: skip)
	ReconBatch int // images per Encode call (the residual alignment uses batch statistics)
	ProbeTrain int // train images for the probes (0: skip probes)
	ProbeTest  int // held-out images the probes are scored on
	GridCols   int // images per class in each grid
	Workers    int
	Log        io.Writer
}

// Report is every number an evaluation produces (JSON-ready).
type Report struct {
	FeatureSpace   string          `json:"feature_space"`
	Classifier     *ClassifierInfo `json:"classifier,omitempty"`
	Real           RealReference   `json:"real_reference"`
	Generation     []GenResult     `json:"generation"`
	Reconstruction *Reconstruction `json:"reconstruction,omitempty"`
	Probe          *Probes         `json:"linear_probe,omitempty"`
	ProbeNA        string          `json:"linear_probe_na,omitempty"` // why there are no probes (a VAE latent)
	Timing         Timing          `json:"timing_s"`
	Grids          []Grid          `json:"-"`
	// GenFits are the Gaussians of the generated images' features, one per
	// Generation entry (RunPair compares the two models' samples with them).
	GenFits []Gaussian `json:"-"`
}

// ClassifierInfo describes the judge.
type ClassifierInfo struct {
	Path            string  `json:"path"`
	SHA256          string  `json:"sha256"`
	TestAccuracy    float64 `json:"test_accuracy_pytorch"` // whole test split, from the training script
	RealAccuracyGo  float64 `json:"real_heldout_accuracy_go"`
	RealN           int     `json:"real_heldout_n"`
	FeatureDim      int     `json:"feature_dim"`
	Architecture    string  `json:"architecture"`
	TrainedOn       string  `json:"trained_on"`
	IndependentNote string  `json:"note"`
}

// RealReference is what real images score in the same measurements.
type RealReference struct {
	HeldoutN int `json:"heldout_n"`
	// FDTrainVsHeldout is the Fréchet distance of N real TRAIN images (N =
	// the generated count) to the held-out set: the floor at this sample size.
	FDTrainVsHeldout float64 `json:"fd_train_vs_heldout"`
	FloorN           int     `json:"fd_floor_n"`
}

// GenResult is one (steps, cfg) setting.
type GenResult struct {
	Steps    int       `json:"steps"`
	CFG      float64   `json:"cfg"` // 1 = unguided (one DiT pass per step)
	N        int       `json:"n"`
	Accuracy *float64  `json:"accuracy,omitempty"`
	PerClass []float64 `json:"per_class_accuracy,omitempty"`
	FD       float64   `json:"fd"`
	Seconds  float64   `json:"seconds"` // sampling + decoding
	Grid     string    `json:"grid,omitempty"`
	// Seeds: batch j of Batch images starts from the noise of Seeds[j];
	// image i asks for class i mod K (Labels).
	Seeds  []uint64 `json:"seeds,omitempty"`
	Labels []int    `json:"-"`
}

// Reconstruction is the autoencoder round trip on held-out images.
type Reconstruction struct {
	N            int      `json:"n"`
	Batch        int      `json:"batch"`
	PSNR         float64  `json:"psnr_db"`
	PSNRDinoOnly *float64 `json:"psnr_dino_only_db,omitempty"` // SVG latent only
	Note         string   `json:"note"`
}

// Probes are the linear probes on held-out images, and kNN beside them.
// The class-token probes and kNN are absent from eval.json files written
// before they were measured.
type Probes struct {
	Dino      ProbeResult  `json:"dino"` // mean-pooled patch tokens: the SVG latent's part
	DinoClass *ProbeResult `json:"dino_class_token,omitempty"`
	DinoBoth  *ProbeResult `json:"dino_class_and_patches,omitempty"`
	Residual  ProbeResult  `json:"residual"`
	Pixels    ProbeResult  `json:"pixels"`
	KNN       *KNNScores   `json:"knn,omitempty"`
	Note      string       `json:"note"`
}

// KNNScores are held-out kNN accuracies (KNN) of the probes' features.
type KNNScores struct {
	K         int     `json:"k"`
	Temp      float64 `json:"temperature"`
	DinoClass float64 `json:"dino_class_token"`
	Dino      float64 `json:"dino"`
	Pixels    float64 `json:"pixels"`
}

// Timing is wall time per phase.
type Timing struct {
	Total       float64 `json:"total"`
	Real        float64 `json:"real_reference"`
	Generation  float64 `json:"generation"`
	Reconstruct float64 `json:"reconstruction"`
	Probe       float64 `json:"linear_probe"`
}

// Grid is one setting's sample grid: Rows (one per class) × Cols images.
type Grid struct {
	Steps      int
	CFG        float64
	Rows, Cols int
	Images     Images // Rows·Cols images, row-major
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

func (o *Options) defaults() error {
	if o.Workers < 1 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Batch < 1 {
		o.Batch = 50
	}
	if o.ReconBatch < 1 {
		o.ReconBatch = 64
	}
	if o.GridCols < 1 {
		o.GridCols = 10
	}
	if o.N < 1 || len(o.Steps) == 0 {
		return fmt.Errorf("eval: need n ≥ 1 and at least one step count")
	}
	if o.Schedule.Kind == "" {
		o.Schedule.Kind = "constant"
	}
	m, d := o.Model, o.Data
	if len(d.Classes) != m.Cfg.DiT.NumClasses {
		return fmt.Errorf("eval: data set %s has %d classes, model %d", d.Name, len(d.Classes), m.Cfg.DiT.NumClasses)
	}
	if d.Test.H != m.Cfg.Image || d.Test.W != m.Cfg.Image {
		return fmt.Errorf("eval: data set %s has %d×%d images, model makes %d×%d", d.Name, d.Test.H, d.Test.W, m.Cfg.Image, m.Cfg.Image)
	}
	if c := o.Classifier; c != nil {
		if c.Arch.Classes != len(d.Classes) || c.Arch.Size != d.Test.H {
			return fmt.Errorf("eval: classifier %s is for %d classes at %d², data set %s has %d at %d²",
				c.Path, c.Arch.Classes, c.Arch.Size, d.Name, len(d.Classes), d.Test.H)
		}
	}
	if o.Classifier == nil && m.Dino == nil {
		return fmt.Errorf("eval: no classifier and no DINO encoder in the model: no feature space for the Fréchet distance")
	}
	vae := m.Cfg.LatentKind() == model.LatentVAE
	if vae {
		o.ProbeTrain = 0 // Run says why in Report.ProbeNA
	}
	hasEnc := m.Dino != nil || m.VAE != nil
	if (o.ReconN > 0 || o.ProbeTrain > 0) && !hasEnc {
		return fmt.Errorf("eval: the model file has no encoders (reconstruction and probes need them; set their n to 0)")
	}
	if hasEnc && m.EncoderImage() != d.Test.H {
		return fmt.Errorf("eval: encoders take %d² images, data set has %d²", m.EncoderImage(), d.Test.H)
	}
	o.RealN = min(max(o.RealN, 0), d.Test.N)
	if o.RealN == 0 {
		o.RealN = min(2000, d.Test.N)
	}
	o.ReconN = min(o.ReconN, d.Test.N)
	o.ProbeTrain = min(o.ProbeTrain, d.Train.N)
	o.ProbeTest = min(o.ProbeTest, d.Test.N)
	if o.ProbeTest == 0 {
		o.ProbeTest = d.Test.N
	}
	return nil
}

// Run evaluates the model.
func Run(o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	r := &Report{}
	K := len(o.Data.Classes)
	if o.Model.Cfg.LatentKind() == model.LatentVAE {
		r.ProbeNA = "n/a: a VAE latent has no frozen semantic encoder to probe (its encoder is trained with the decoder)"
	}

	// Feature space for the Fréchet distance.
	var feats func(Images) ([]float32, int, error)
	if c := o.Classifier; c != nil {
		r.FeatureSpace = fmt.Sprintf("penultimate layer (%d-d, after ReLU) of the independent CNN classifier %s, trained on %s train only",
			c.Arch.Hidden, c.Path, o.Data.Name)
		feats = func(im Images) ([]float32, int, error) {
			out, err := c.Run(im, o.Workers)
			return out.Features, c.Arch.Hidden, err
		}
	} else {
		r.FeatureSpace = fmt.Sprintf("mean-pooled patch tokens (%d-d) of the evaluated model's own frozen DINO encoder: NOT independent of the model",
			o.Model.Dino.Cfg.Dim)
		feats = func(im Images) ([]float32, int, error) {
			f, err := o.encodePooled(im, false, false)
			return f.dino, o.Model.Dino.Cfg.Dim, err
		}
	}

	// Real reference: held-out set, and a train subset of the generated size.
	tr := time.Now()
	held := o.Data.Test.Subset(Sample(o.Data.Test.N, o.RealN, o.Seed+1))
	rf, D, err := feats(held.Images)
	if err != nil {
		return nil, err
	}
	realG := Fit(rf, held.N, D)
	floor := o.Data.Train.Subset(Sample(o.Data.Train.N, o.N, o.Seed+2))
	ff, _, err := feats(floor.Images)
	if err != nil {
		return nil, err
	}
	r.Real = RealReference{HeldoutN: held.N, FloorN: floor.N, FDTrainVsHeldout: Frechet(Fit(ff, floor.N, D), realG)}
	if c := o.Classifier; c != nil {
		out, err := c.Run(held.Images, o.Workers)
		if err != nil {
			return nil, err
		}
		acc, _ := accuracy(out.Predictions(K), held.Labels, K)
		r.Classifier = &ClassifierInfo{Path: c.Path, SHA256: c.SHA256, TestAccuracy: c.TestAccuracy, RealAccuracyGo: acc,
			RealN: held.N, FeatureDim: c.Arch.Hidden, TrainedOn: c.Meta["dataset"] + " train split",
			Architecture: fmt.Sprintf("conv3×3-BN-ReLU-maxpool ×%d %v → fc %d → fc %d, input %d×%d×%d",
				len(c.Arch.Channels), c.Arch.Channels, c.Arch.Hidden, c.Arch.Classes, c.Arch.Size, c.Arch.Size, c.Arch.InChannels),
			IndependentNote: "trained by tools/eval/train_classifier.py on real training images only; never sees the SVG model or its samples"}
	}
	r.Timing.Real = time.Since(tr).Seconds()
	o.logf("real reference: %d held-out images, FD floor (%d train vs held-out) %.3f (%.1fs)\n",
		held.N, floor.N, r.Real.FDTrainVsHeldout, r.Timing.Real)

	// Generation.
	tg := time.Now()
	cfgs := []float64{1}
	if o.CFG > 1 {
		cfgs = append(cfgs, o.CFG)
		if o.GuidedOnly {
			cfgs = cfgs[1:]
		}
	}
	for _, steps := range o.Steps {
		for _, w := range cfgs {
			ts := time.Now()
			im, labels, err := o.generate(steps, w)
			if err != nil {
				return nil, err
			}
			g := GenResult{Steps: steps, CFG: w, N: im.N, Seconds: time.Since(ts).Seconds(), Seeds: o.seeds(), Labels: labels}
			gf, _, err := feats(im)
			if err != nil {
				return nil, err
			}
			fit := Fit(gf, im.N, D)
			g.FD = Frechet(fit, realG)
			r.GenFits = append(r.GenFits, fit)
			line := fmt.Sprintf("steps %2d cfg %-3g: FD %8.3f", steps, w, g.FD)
			if c := o.Classifier; c != nil {
				out, err := c.Run(im, o.Workers)
				if err != nil {
					return nil, err
				}
				acc, per := accuracy(out.Predictions(K), labels, K)
				g.Accuracy, g.PerClass = &acc, per
				line += fmt.Sprintf("  class accuracy %.4f", acc)
			}
			r.Generation = append(r.Generation, g)
			r.Grids = append(r.Grids, o.grid(im, steps, w, K))
			o.logf("%s  (%.1fs sampling+decoding, %.2f img/s)\n", line, g.Seconds, float64(im.N)/g.Seconds)
		}
	}
	r.Timing.Generation = time.Since(tg).Seconds()

	if o.ReconN > 0 {
		tc := time.Now()
		rec, err := o.reconstruct()
		if err != nil {
			return nil, err
		}
		r.Reconstruction = rec
		r.Timing.Reconstruct = time.Since(tc).Seconds()
		line := fmt.Sprintf("reconstruction: %d held-out images, PSNR %.2f dB", rec.N, rec.PSNR)
		if rec.PSNRDinoOnly != nil {
			line += fmt.Sprintf(", DINO only %.2f dB", *rec.PSNRDinoOnly)
		}
		o.logf("%s (%.1fs)\n", line, r.Timing.Reconstruct)
	}
	if o.ProbeTrain > 0 {
		tp := time.Now()
		p, err := o.probes()
		if err != nil {
			return nil, err
		}
		r.Probe = p
		r.Timing.Probe = time.Since(tp).Seconds()
		o.logf("linear probes (%d train / %d held-out): DINO patches %.4f, class token %.4f, both %.4f, residual %.4f, pixels %.4f; "+
			"kNN: class token %.4f, patches %.4f, pixels %.4f (%.1fs)\n",
			p.Dino.TrainN, p.Dino.TestN, p.Dino.TestAcc, p.DinoClass.TestAcc, p.DinoBoth.TestAcc, p.Residual.TestAcc, p.Pixels.TestAcc,
			p.KNN.DinoClass, p.KNN.Dino, p.KNN.Pixels, r.Timing.Probe)
	}
	r.Timing.Total = time.Since(t0).Seconds()
	return r, nil
}

func accuracy(pred, labels []int, K int) (float64, []float64) {
	ok, okc, nc := 0, make([]int, K), make([]int, K)
	for i, p := range pred {
		nc[labels[i]]++
		if p == labels[i] {
			ok++
			okc[labels[i]]++
		}
	}
	per := make([]float64, K)
	for k := range K {
		if nc[k] > 0 {
			per[k] = float64(okc[k]) / float64(nc[k])
		} else {
			per[k] = math.NaN()
		}
	}
	for k, v := range per { // JSON has no NaN
		if math.IsNaN(v) {
			per[k] = -1
		}
	}
	return float64(ok) / float64(max(1, len(pred))), per
}

// seeds lists the noise seed of each batch generate draws.
func (o *Options) seeds() []uint64 {
	var s []uint64
	for j, start := 0, 0; start < o.N; j, start = j+1, start+o.Batch {
		s = append(s, o.Seed+uint64(j))
	}
	return s
}

// generate samples N images (class i mod K for image i) at one setting.
// Batch j starts from the noise of seed Seed+j at every setting, so the
// settings see the same starting latents.
func (o *Options) generate(steps int, w float64) (Images, []int, error) {
	m, b := o.Model, o.Backend
	K, S, C := m.Cfg.DiT.NumClasses, m.Cfg.Image, o.Data.Test.C
	all := Images{H: S, W: S, C: C}
	var labels []int
	for j, start := 0, 0; start < o.N; j, start = j+1, start+o.Batch {
		n := min(o.Batch, o.N-start)
		cls := make([]int, n)
		for i := range cls {
			cls[i] = (start + i) % K
		}
		z, err := model.Sample(b, m.DiT, model.SampleOptions{Classes: cls, Seed: o.Seed + uint64(j), Steps: steps,
			CFG: w, Schedule: o.Schedule, Shift: o.Shift})
		if err != nil {
			return all, nil, err
		}
		img := m.Decode(b, z, n)
		px, err := b.ToRGBA8(img, n, S, S)
		b.Free(z, img)
		if err != nil {
			return all, nil, err
		}
		im := FromRGBA8(px, n, S, S, C)
		all.Pix = append(all.Pix, im.Pix...)
		all.N += n
		labels = append(labels, cls...)
	}
	return all, labels, nil
}

// grid picks the first GridCols images of each class, one row per class.
func (o *Options) grid(im Images, steps int, w float64, K int) Grid {
	cols := min(o.GridCols, im.N/K)
	if cols < 1 {
		cols = 1
	}
	var idx []int
	for c := range K {
		for j := range cols {
			if i := c + j*K; i < im.N {
				idx = append(idx, i)
			} else if len(idx) > 0 {
				idx = append(idx, idx[len(idx)-1]) // too few images: repeat
			}
		}
	}
	return Grid{Steps: steps, CFG: w, Rows: K, Cols: cols, Images: im.Select(idx)}
}

// pooled are an image batch's frozen-encoder features, [N,dim] each.
type pooled struct {
	dino, cls, resid []float32 // mean-pooled patch tokens, class token, mean-pooled raw residual
}

// encodePooled runs the frozen DINO encoder (and, with res, the residual
// ViT) on images: its patch tokens mean-pooled, [N,Cd], with cls its class
// token too, [N,Cd] (and [N,Cr], the raw residual features before the batch
// alignment). Without cls the class token is neither kept nor read back.
func (o *Options) encodePooled(im Images, res, cls bool) (pooled, error) {
	m, b := o.Model, o.Backend
	S := m.EncoderImage()
	Cr := m.Residual.Cfg.OutDim
	Cd := m.Dino.Cfg.Dim
	var f pooled
	bs := o.ReconBatch
	for start := 0; start < im.N; start += bs {
		n := min(bs, im.N-start)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = start + i
		}
		x := b.Upload(im.Select(idx).ImageNetNCHW(), n, 3, S, S)
		var dt, ct model.Tensor
		if cls {
			dt, ct = m.Dino.ForwardClass(b, x, n, S, S)
		} else {
			dt = m.Dino.Forward(b, x, n, S, S)
		}
		dv, err := b.Read(dt)
		if cls {
			if err == nil {
				var cv []float32
				if cv, err = b.Read(ct); err == nil {
					f.cls = append(f.cls, cv...)
				}
			}
			b.Free(ct)
		}
		b.Free(dt)
		if err != nil {
			return f, err
		}
		f.dino = append(f.dino, meanPool(dv, n, Cd)...)
		if res {
			rt := m.Residual.Forward(b, x, n)
			rv, err := b.Read(rt)
			b.Free(rt)
			if err != nil {
				return f, err
			}
			f.resid = append(f.resid, meanPool(rv, n, Cr)...)
		}
		b.Free(x)
	}
	return f, nil
}

// meanPool averages [n,T,C] over T.
func meanPool(v []float32, n, C int) []float32 {
	T := len(v) / (n * C)
	out := make([]float32, n*C)
	for i := range n {
		acc := make([]float64, C)
		for t := range T {
			for c, x := range v[(i*T+t)*C : (i*T+t+1)*C] {
				acc[c] += float64(x)
			}
		}
		for c := range C {
			out[i*C+c] = float32(acc[c] / float64(T))
		}
	}
	return out
}

// reconstruct encodes held-out images in batches of ReconBatch (SVG.Encode,
// batch-statistics alignment as in the official autoencoder) and decodes
// them, once as they are and once with the residual channels set to 0 in
// the normalised latent (their training-set mean): DINO alone. A VAE latent
// is the posterior mean of each image (no batch statistics, no residual
// channels): one round trip.
func (o *Options) reconstruct() (*Reconstruction, error) {
	m, b := o.Model, o.Backend
	S := m.EncoderImage()
	test := o.Data.Test.Subset(Sample(o.Data.Test.N, o.ReconN, o.Seed+3))
	g := m.Cfg.EncoderGrid()
	T, C := g*g, m.Cfg.DiT.InChannels
	svg := m.Dino != nil
	Cd := C // VAE: nothing to zero
	if svg {
		Cd = m.Dino.Cfg.Dim
	}
	mean, std := m.Cfg.InputNorm()
	var sum, sumDino float64
	for start := 0; start < test.N; start += o.ReconBatch {
		n := min(o.ReconBatch, test.N-start)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = start + i
		}
		im := test.Images.Select(idx)
		x := b.Upload(im.NormNCHW(mean, std), n, 3, S, S)
		z, err := m.Encode(b, x, n)
		b.Free(x)
		if err != nil {
			return nil, err
		}
		type variant struct {
			z   model.Tensor
			acc *float64
		}
		runs := []variant{{z, &sum}}
		var zd model.Tensor
		if svg {
			zv, err := b.Read(z)
			if err != nil {
				return nil, err
			}
			for r := range n * T {
				clear(zv[r*C+Cd : (r+1)*C])
			}
			zd = b.Upload(zv, n, T, C)
			runs = append(runs, variant{zd, &sumDino})
		}
		target := im.Float01(3)
		for _, v := range runs {
			img := m.Decode(b, v.z, n)
			out, err := b.Read(img)
			b.Free(img)
			if err != nil {
				return nil, err
			}
			if len(out) != len(target) {
				return nil, fmt.Errorf("eval: decoder made %d values for %d images of %d² (want %d)", len(out), n, S, len(target))
			}
			per := len(target) / n
			for i := range n {
				*v.acc += psnr(out[i*per:(i+1)*per], target[i*per:(i+1)*per])
			}
		}
		b.Free(z)
		if zd != nil {
			b.Free(zd)
		}
	}
	note := "mean over held-out images of the per-image PSNR on [0,1] RGB (decoder output clamped to [-1,1], then (x+1)/2; grey inputs replicated to 3 channels), " +
		"encode → decode through novae at the encoder's size (= the decoder's output size); "
	rc := &Reconstruction{N: test.N, Batch: o.ReconBatch, PSNR: sum / float64(test.N)}
	if svg {
		d := sumDino / float64(test.N)
		rc.PSNRDinoOnly = &d
		rc.Note = note + "residual alignment over each batch; " +
			"'DINO only' sets the residual channels of the normalised latent to 0 (their training-set mean)"
	} else {
		rc.Note = note + "VAE latent: the posterior mean of each image (pixels in [-1,1] to the encoder), decoded as it is"
	}
	return rc, nil
}

// psnr of a decoder output in [-1,1] (clamped) against a target in [0,1].
func psnr(out, target []float32) float64 {
	var se float64
	for i, v := range out {
		p := (math.Max(-1, math.Min(1, float64(v))) + 1) / 2
		d := p - float64(target[i])
		se += d * d
	}
	mse := math.Max(se/float64(len(out)), 1e-10)
	return -10 * math.Log10(mse)
}

// probes fits the three linear probes.
func (o *Options) probes() (*Probes, error) {
	d := o.Data
	K := len(d.Classes)
	train := d.Train.Subset(Sample(d.Train.N, o.ProbeTrain, o.Seed+4))
	test := d.Test.Subset(Sample(d.Test.N, o.ProbeTest, o.Seed+5))
	ftr, err := o.encodePooled(train.Images, true, true)
	if err != nil {
		return nil, err
	}
	fte, err := o.encodePooled(test.Images, true, true)
	if err != nil {
		return nil, err
	}
	po := ProbeOptions{Workers: o.Workers}
	ko := KNNOptions{Workers: o.Workers}
	Cd, Cr := o.Model.Dino.Cfg.Dim, o.Model.Residual.Cfg.OutDim
	ptr, dim, f := pixelFeatures(train.Images)
	pte, _, _ := pixelFeatures(test.Images)
	btr, bte := concatRows(ftr.cls, ftr.dino, Cd, Cd), concatRows(fte.cls, fte.dino, Cd, Cd)
	p := &Probes{}
	p.Dino = LinearProbe(ftr.dino, train.Labels, fte.dino, test.Labels, Cd, K, po)
	cls := LinearProbe(ftr.cls, train.Labels, fte.cls, test.Labels, Cd, K, po)
	both := LinearProbe(btr, train.Labels, bte, test.Labels, 2*Cd, K, po)
	p.DinoClass, p.DinoBoth = &cls, &both
	p.Residual = LinearProbe(ftr.resid, train.Labels, fte.resid, test.Labels, Cr, K, po)
	p.Pixels = LinearProbe(ptr, train.Labels, pte, test.Labels, dim, K, po)
	p.KNN = &KNNScores{K: 20, Temp: 0.07,
		DinoClass: KNN(ftr.cls, train.Labels, fte.cls, test.Labels, Cd, K, ko),
		Dino:      KNN(ftr.dino, train.Labels, fte.dino, test.Labels, Cd, K, ko),
		Pixels:    KNN(ptr, train.Labels, pte, test.Labels, dim, K, ko)}
	p.Note = fmt.Sprintf("multinomial logistic regression (L-BFGS ≤ 300 iterations, L2 λ = 1/N_train as scikit-learn's C=1, standardised features), "+
		"trained on %d random %s train images, scored on %d held-out images; dino: the frozen encoder's final-norm patch tokens mean-pooled (%d-d), "+
		"what the SVG latent is made of; dino_class_token: its final-norm class token (%d-d); dino_class_and_patches: the two concatenated "+
		"(%d-d, DINOv2's linear evaluation); residual: the residual ViT's raw output mean-pooled (%d-d, before the batch alignment, which is affine); "+
		"pixels: the image in [0,1], %d×%d area-averaged, %d channel(s) (%d-d); knn: DINO's weighted cosine kNN (k = 20, T = 0.07) with the same "+
		"train images as its memory",
		train.N, d.Name, test.N, Cd, Cd, 2*Cd, Cr, train.H/f, train.W/f, train.C, dim)
	return p, nil
}

// concatRows joins [n,da] and [n,db] row by row into [n,da+db].
func concatRows(a, b []float32, da, db int) []float32 {
	n := len(a) / da
	out := make([]float32, 0, n*(da+db))
	for i := range n {
		out = append(out, a[i*da:(i+1)*da]...)
		out = append(out, b[i*db:(i+1)*db]...)
	}
	return out
}

// pixelFeatures: pixels in [0,1], area-averaged by the smallest power of
// two that brings the dimension to ≤ 1024.
func pixelFeatures(im Images) ([]float32, int, int) {
	f := 1
	for (im.H/f)*(im.W/f)*im.C > 1024 && im.H%(2*f) == 0 && im.W%(2*f) == 0 {
		f *= 2
	}
	h, w := im.H/f, im.W/f
	dim := h * w * im.C
	out := make([]float32, im.N*dim)
	for i := range im.N {
		src := im.At(i)
		dst := out[i*dim : (i+1)*dim]
		for y := range im.H {
			for x := range im.W {
				for c := range im.C {
					dst[((y/f)*w+x/f)*im.C+c] += float32(src[(y*im.W+x)*im.C+c]) / 255 / float32(f*f)
				}
			}
		}
	}
	return out, dim, f
}
