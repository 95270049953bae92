package convert

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"novae/model"
	"novae/model/pt"
)

// Options of a conversion.
type Options struct {
	DiT   string // official DiT checkpoint: state dict at the top or under "ema"/"model" (required)
	AE    string // official autoencoder: Lightning {"state_dict": …} (required for the decoder)
	Dino  string // DINOv3 weights alone (keys without prefix): become encoder.*, replacing the autoencoder's
	Stats string // dinov3_sp_stats.pt: latent.mean/std (without it the file has no feature norm)

	Base       *model.Config // preset or config file; nil: shapes and defaults only
	BaseName   string        // what notes call Base, e.g. "preset svg-xl"
	Override   Overrides
	NoEncoders bool // leave out encoder.* and extra_vit.* (a generation-only file)

	Quant  Quant
	Output Output
	Log    io.Writer // notes and the summary; nil discards them
}

// Assembled is the checked tensor set of a conversion, before packing.
type Assembled struct {
	Config  model.Config
	Params  []model.Param         // ParamsFor(Config)
	Tensors map[string]*pt.Tensor // file key → values (source shape)
	Sources map[string]string     // role → source file name
	Notes   []string              // what was ignored, dropped, baked or guessed
}

var biasMaskRE = regexp.MustCompile(`^` + regexp.QuoteMeta(model.PrefixDino) + `blocks\.\d+\.attn\.qkv\.bias_mask$`)

// Assemble reads the official files, renames their keys, bakes DINOv3's
// bias_mask, infers the config and checks every key and shape against it.
// A mismatch is a *Mismatch listing every missing, mis-shaped and
// unexpected key.
func Assemble(o Options) (*Assembled, error) {
	return assemble(o, ReadTensors)
}

// assemble is Assemble with the reader of the checkpoint files given: tests
// pass one that makes up the official files' tensors from their key lists
// (shapes without values, see official_test.go). Everything after reading
// works on shapes alone, except baking the bias_mask and the latent
// statistics, which need values.
func assemble(o Options, read func(path string) (map[string]*pt.Tensor, error)) (*Assembled, error) {
	if o.DiT == "" || o.AE == "" {
		return nil, fmt.Errorf("convert needs the DiT checkpoint and the autoencoder checkpoint (for the decoder)")
	}
	a := &Assembled{Tensors: map[string]*pt.Tensor{}, Sources: map[string]string{}}
	note := func(format string, args ...any) { a.Notes = append(a.Notes, fmt.Sprintf(format, args...)) }

	// DiT.
	dit, err := read(o.DiT)
	if err != nil {
		return nil, fmt.Errorf("DiT checkpoint: %w", err)
	}
	sd, used, left := unwrap(dit, "ema", "model", "state_dict")
	if used != "" {
		note("DiT: using %q from %s", used, filepath.Base(o.DiT))
		if len(left) > 0 {
			note("DiT: ignored outside %q: %s", used, strings.Join(left, ", "))
		}
	}
	if s, ok := stripModule(sd); ok {
		sd = s
		note("DiT: stripped the DataParallel prefix \"module.\"")
	}
	if len(sd) == 0 {
		return nil, fmt.Errorf("DiT checkpoint %s holds no tensors", o.DiT)
	}
	for k, t := range sd {
		a.Tensors[model.PrefixDiT+k] = t
	}
	a.Sources["dit"] = filepath.Base(o.DiT)

	// Autoencoder.
	ae, err := read(o.AE)
	if err != nil {
		return nil, fmt.Errorf("autoencoder checkpoint: %w", err)
	}
	sd, used, left = unwrap(ae, "state_dict")
	if used != "" && len(left) > 0 {
		note("autoencoder: ignored outside %q: %s", used, strings.Join(left, ", "))
	}
	var ignored []string
	lossN := 0
	for _, k := range sortedKeys(sd) {
		t := sd[k]
		switch {
		case strings.HasPrefix(k, "loss."):
			lossN++
		case k == "mask_token" || strings.HasPrefix(k, "norm_vit."):
			ignored = append(ignored, fmt.Sprintf("%s %v", k, t.Shape))
		default:
			a.Tensors[k] = t
		}
	}
	if lossN > 0 {
		ignored = append([]string{fmt.Sprintf("loss.* (%d tensors)", lossN)}, ignored...)
	}
	if len(ignored) > 0 {
		note("autoencoder: ignored (unused at inference): %s", strings.Join(ignored, ", "))
	}
	a.Sources["ae"] = filepath.Base(o.AE)
	// An LDM KL autoencoder (the VAE-latent twin) has post_quant_conv;
	// SVG's autoencoder has none.
	_, vae := a.Tensors["post_quant_conv.weight"]
	if vae && o.Dino != "" {
		return a, fmt.Errorf("the autoencoder is an LDM KL autoencoder (post_quant_conv): it has no DINOv3 for -dino to replace")
	}

	// DINOv3 alone.
	if o.Dino != "" {
		dino, err := read(o.Dino)
		if err != nil {
			return nil, fmt.Errorf("DINOv3 weights: %w", err)
		}
		sd, used, _ := unwrap(dino, "state_dict", "model")
		if used != "" {
			note("DINOv3: using %q from %s", used, filepath.Base(o.Dino))
		}
		replaced, differ := 0, 0
		for k := range a.Tensors {
			if strings.HasPrefix(k, model.PrefixDino) {
				old := a.Tensors[k]
				if n, ok := sd[strings.TrimPrefix(k, model.PrefixDino)]; !ok || !slices.Equal(n.Shape, old.Shape) || !slices.Equal(n.Data, old.Data) {
					differ++
				}
				delete(a.Tensors, k)
				replaced++
			}
		}
		if replaced > 0 {
			note("DINOv3: %s replaces the autoencoder's %d encoder.* tensors (%d differ)", filepath.Base(o.Dino), replaced, differ)
		}
		for k, t := range sd {
			a.Tensors[model.PrefixDino+k] = t
		}
		a.Sources["dino"] = filepath.Base(o.Dino)
	}

	// Training-only and derived tensors.
	baked := 0
	for _, k := range sortedKeys(a.Tensors) {
		switch {
		case biasMaskRE.MatchString(k):
			mask := a.Tensors[k]
			bk := strings.TrimSuffix(k, "_mask")
			if b, ok := a.Tensors[bk]; ok {
				if len(b.Data) != len(mask.Data) {
					return nil, fmt.Errorf("%s %v does not fit %s %v", k, mask.Shape, bk, b.Shape)
				}
				nb := &pt.Tensor{Shape: b.Shape, DType: b.DType, Data: make([]float32, len(b.Data))}
				for i, v := range b.Data {
					nb.Data[i] = v * mask.Data[i]
				}
				a.Tensors[bk] = nb
				baked++
			}
			delete(a.Tensors, k)
		case k == model.PrefixDino+"mask_token":
			note("dropped %s %v (training only)", k, a.Tensors[k].Shape)
			delete(a.Tensors, k)
		case strings.HasSuffix(k, ".num_batches_tracked"):
			note("dropped %s (BatchNorm counter)", k)
			delete(a.Tensors, k)
		}
	}
	if baked > 0 {
		note("baked %d DINOv3 attn.qkv.bias_mask buffers into attn.qkv.bias and dropped them", baked)
	}

	// Which parts the file holds.
	hasDino, hasRes := hasPrefix(a.Tensors, model.PrefixDino), hasPrefix(a.Tensors, model.PrefixResidual)
	encoders := hasDino && hasRes
	hasQuant := hasPrefix(a.Tensors, model.PrefixQuant)
	switch {
	case vae && o.NoEncoders:
		n := 0
		for k := range a.Tensors {
			if strings.HasPrefix(k, model.PrefixDino) || strings.HasPrefix(k, model.PrefixQuant) {
				delete(a.Tensors, k)
				n++
			}
		}
		note("left out the VAE encoder and quant_conv (%d tensors): the file can generate but not encode", n)
		encoders = false
	case vae:
		encoders = hasDino && hasQuant
		switch {
		case hasRes:
			return a, fmt.Errorf("the autoencoder has both an LDM KL autoencoder's post_quant_conv and SVG's residual ViT (extra_vit.*): which model is it?")
		case hasDino && !hasQuant:
			return a, fmt.Errorf("the LDM KL autoencoder has an encoder (encoder.*) but no quant_conv: leave out the encoder to convert without it")
		case hasQuant && !hasDino:
			return a, fmt.Errorf("the LDM KL autoencoder has quant_conv but no encoder (encoder.*): leave out the encoder to convert without it")
		case !encoders:
			note("no encoder in the autoencoder checkpoint: the file can generate but not encode")
		}
	case o.NoEncoders:
		n := 0
		for k := range a.Tensors {
			if strings.HasPrefix(k, model.PrefixDino) || strings.HasPrefix(k, model.PrefixResidual) {
				delete(a.Tensors, k)
				n++
			}
		}
		note("left out the encoders (%d tensors): the file can generate but not encode", n)
		encoders = false
	case hasRes && !hasDino:
		return a, fmt.Errorf("the autoencoder checkpoint has the residual ViT (extra_vit.*) but no DINOv3 (encoder.*): give the DINOv3 weights, or leave out the encoders")
	case hasDino && !hasRes:
		return a, fmt.Errorf("there are DINOv3 weights (encoder.*) but no residual ViT (extra_vit.*) in the autoencoder checkpoint: leave out the encoders to convert without them")
	case !encoders:
		note("no encoders in the autoencoder checkpoint: the file can generate but not encode")
	}

	// Config.
	shapes := map[string][]int{}
	for k, t := range a.Tensors {
		shapes[k] = t.Shape
	}
	baseName := o.BaseName
	if baseName == "" {
		baseName = "the base config"
	}
	cfg, notes, err := infer(shapes, o.Base, baseName, o.Override, encoders, o.Stats != "", vae)
	a.Notes = append(a.Notes, notes...)
	if err != nil {
		return a, err
	}
	a.Config = cfg

	// Latent statistics.
	if o.Stats != "" {
		mean, std, err := readStats(read, o.Stats, cfg.DiT.InChannels)
		if err != nil {
			return a, err
		}
		a.Tensors[model.KeyMean] = mean
		a.Tensors[model.KeyStd] = std
		shapes[model.KeyMean], shapes[model.KeyStd] = mean.Shape, std.Shape
		a.Sources["stats"] = filepath.Base(o.Stats)
	} else if vae {
		note("no latent statistics: the file has no feature norm (the DiT then samples the raw VAE latent)")
	} else {
		note("no latent statistics: the file has no feature norm (the official sampler denormalises with dinov3_sp_stats.pt)")
	}

	// Every key and shape.
	a.Params = ParamsFor(cfg)
	what := fmt.Sprintf("config %q (dit.K is key K of the DiT checkpoint; encoder./extra_vit./decoder. keys are the autoencoder's)", cfg.Name)
	if vae {
		what = fmt.Sprintf("config %q (dit.K is key K of the DiT checkpoint; encoder./quant_conv./post_quant_conv./decoder. keys are the LDM autoencoder's)", cfg.Name)
	}
	if m := check(shapes, a.Params, what); m != nil {
		return a, m
	}
	src := model.MapSource{}
	for k, t := range a.Tensors {
		src[k] = model.MapTensor{Shape: t.Shape, Data: t.Data}
	}
	if err := model.Check(src, "", a.Params); err != nil {
		return a, err
	}
	if pe, ok := a.Tensors[model.PrefixDiT+"pos_embed"]; ok {
		ref := model.PosEmbed2D(cfg.DiT.Hidden, cfg.DiT.Grid)
		d := 0.0
		for i, v := range pe.Data {
			d = math.Max(d, math.Abs(float64(v-ref[i])))
		}
		if d > 1e-4 {
			note("dit.pos_embed differs from the fixed 2-D sin-cos table by up to %.3g (kept as stored)", d)
		}
	}
	return a, nil
}

// readStats reads dinov3_sp_mean / dinov3_sp_std ([1,1,C]) and cuts them to
// the first c channels, as the official sampler does.
func readStats(read func(string) (map[string]*pt.Tensor, error), path string, c int) (mean, std *pt.Tensor, err error) {
	m, err := read(path)
	if err != nil {
		return nil, nil, fmt.Errorf("latent statistics: %w", err)
	}
	get := func(names ...string) (*pt.Tensor, error) {
		for _, n := range names {
			if t, ok := m[n]; ok {
				if len(t.Data) < c {
					return nil, fmt.Errorf("latent statistics %s: %s %v has %d channels, the DiT takes %d", path, n, t.Shape, len(t.Data), c)
				}
				if len(t.Shape) > 0 && t.Shape[len(t.Shape)-1] != len(t.Data) {
					return nil, fmt.Errorf("latent statistics %s: %s has shape %v, want [1,1,C]", path, n, t.Shape)
				}
				return &pt.Tensor{Shape: []int{c}, DType: t.DType, Data: slices.Clone(t.Data[:c])}, nil
			}
		}
		return nil, fmt.Errorf("latent statistics %s: no %s (have %s)", path, names[0], strings.Join(sortedKeys(m), ", "))
	}
	if mean, err = get("dinov3_sp_mean", "mean"); err != nil {
		return nil, nil, err
	}
	if std, err = get("dinov3_sp_std", "std"); err != nil {
		return nil, nil, err
	}
	for i, v := range std.Data {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("latent statistics %s: std[%d] = %g (must be positive and finite)", path, i, v)
		}
	}
	return mean, std, nil
}

func hasPrefix(m map[string]*pt.Tensor, p string) bool {
	for k := range m {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// Convert builds one novae weights file (or sharded set) from the official
// checkpoints: Assemble, Pack (quantizing per o.Quant), write with the
// metadata, and print the notes and a summary to o.Log.
func Convert(o Options) error {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if _, err := o.Quant.normalize(); err != nil {
		return err
	}
	if o.Output.Path == "" {
		return fmt.Errorf("no output path")
	}
	a, err := Assemble(o)
	if a != nil {
		for _, n := range a.Notes {
			fmt.Fprintln(log, "note:", n)
		}
	}
	if err != nil {
		return err
	}
	p, err := Pack(a.Params, o.Quant, func(p model.Param) ([]int, []float32, bool, error) {
		t, ok := a.Tensors[p.Name]
		if !ok {
			return nil, nil, false, nil
		}
		delete(a.Tensors, p.Name) // let the f32 copy go as soon as it is packed
		shape := t.Shape
		if p.Linear || p.Name == model.KeyMean || p.Name == model.KeyStd {
			shape = p.Shape
		}
		return shape, t.Data, true, nil
	})
	if err != nil {
		return err
	}
	for _, n := range p.Notes {
		fmt.Fprintln(log, "note:", n)
	}
	meta, err := Metadata(a.Config, a.Sources, p.Quant, nil)
	if err != nil {
		return err
	}
	files, err := o.Output.Write(p, meta)
	if err != nil {
		return err
	}
	Summarize(a.Config, p, files).Print(log)
	return nil
}
