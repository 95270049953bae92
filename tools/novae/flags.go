package main

import (
	"flag"

	"novae/model"
	"novae/model/convert"
)

// writeFlags are the output flags shared by the commands that write weights.
type writeFlags struct {
	out     string
	shard   bool
	shardMB int
	quant   string
	group   int
	convs   bool
}

func (w *writeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&w.out, "out", "", "output `file` (.safetensors); with -shard the manifest (.json), shards beside it (required)")
	fs.BoolVar(&w.shard, "shard", false, "write a sharded set: shards of at most -shard-mb MiB plus a manifest")
	fs.IntVar(&w.shardMB, "shard-mb", 64, "shard size limit in `MiB`")
	fs.StringVar(&w.quant, "quant", "f32", "storage of the Linear weights: f32, f16, int8 or int4 (everything else stays F32)")
	fs.IntVar(&w.group, "group", 0, "input columns per scale (`G`): int8 0 = one scale per row; int4 default 32")
	fs.BoolVar(&w.convs, "quant-convs", false, "also store conv weights as int8, one scale per output channel (dequantized to f32 at load)")
}

func (w *writeFlags) get() (convert.Output, convert.Quant, error) {
	if w.out == "" {
		return convert.Output{}, convert.Quant{}, usagef("-out is required")
	}
	if w.shardMB <= 0 {
		return convert.Output{}, convert.Quant{}, usagef("-shard-mb must be positive")
	}
	q := convert.Quant{Kind: w.quant, Group: w.group, Convs: w.convs}
	if q.Kind == "f32" {
		q.Kind = ""
	}
	switch q.Kind {
	case "", "f16", "int8", "int4":
	default:
		return convert.Output{}, convert.Quant{}, usagef("-quant %q: want f32, f16, int8 or int4", w.quant)
	}
	if w.group < 0 {
		return convert.Output{}, convert.Quant{}, usagef("-group must be ≥ 0")
	}
	if w.group != 0 && q.Kind != "int8" && q.Kind != "int4" {
		return convert.Output{}, convert.Quant{}, usagef("-group %d needs -quant int8 or int4", w.group)
	}
	return convert.Output{Path: w.out, Shard: w.shard, ShardBytes: int64(w.shardMB) << 20}, q, nil
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments: %v", args)
	}
	return nil
}

// samplerSettings is a model card's sampler defaults (the official ones where
// the card has none) with the -cfg, -shift and -schedule flags that override
// them: cfgScale < 0, shift 0 and schedule "" keep the card's value.
func samplerSettings(d model.SampleDefaults, cfgScale, shift float64, schedule string) (model.SampleDefaults, model.Schedule, error) {
	if d.Steps == 0 {
		d = model.OfficialDefaults
	}
	if cfgScale >= 0 {
		d.CFG = cfgScale
	}
	if shift != 0 {
		d.Shift = shift
	}
	if schedule != "" {
		d.Schedule = schedule
	}
	sched, err := model.ParseSchedule(d.Schedule)
	if err != nil {
		return d, sched, usagef("%v", err)
	}
	return d, sched, nil
}

// judgeFlags are the flags of the commands that sample a model and judge the
// samples against a data set (eval, curve): data and judge, sampler
// settings, seeds and batch, and the backend.
type judgeFlags struct {
	data, clf, steps, schedule string
	cfg, shift                 float64
	seed                       uint64
	batch, real                int
	cpu, gpu, ref, quiet       bool
}

// add declares them; steps is the default step list.
func (j *judgeFlags) add(fs *flag.FlagSet, steps string) {
	fs.StringVar(&j.data, "data", "", "prepared data set directory, e.g. data/digits (required)")
	fs.StringVar(&j.clf, "classifier", "", "classifier file (default tools/eval/classifier_<data name>.safetensors; eval also takes \"none\": no classifier, FD in the model's own DINO features)")
	fs.StringVar(&j.steps, "steps", steps, "sampling step counts, comma-separated")
	fs.Float64Var(&j.cfg, "cfg", -1, "guidance scale of the guided runs (-1: the model card's; ≤ 1: unguided runs only)")
	fs.Float64Var(&j.shift, "shift", 0, "time-grid shift (0: the model card's)")
	fs.StringVar(&j.schedule, "schedule", "", "CFG schedule (empty: the model card's)")
	fs.Uint64Var(&j.seed, "seed", 0, "seed of the noise and of the image subsets")
	fs.IntVar(&j.batch, "batch", 50, "images per sampler call")
	fs.IntVar(&j.real, "real", 2000, "held-out images the samples are compared with (Fréchet distance)")
	fs.BoolVar(&j.cpu, "cpu", false, "pure-Go CPU backend (the default unless WebGPU has a real GPU)")
	fs.BoolVar(&j.gpu, "gpu", false, "WebGPU backend even on a CPU rasteriser")
	fs.BoolVar(&j.ref, "ref", false, "the unmodified pure-Go reference backend (model.CPU: float64, one core; slow)")
	fs.BoolVar(&j.quiet, "q", false, "no progress lines")
}

// check validates them and returns the step counts.
func (j *judgeFlags) check() ([]int, error) {
	if j.data == "" {
		return nil, usagef("-data is required")
	}
	if btoi(j.cpu)+btoi(j.gpu)+btoi(j.ref) > 1 {
		return nil, usagef("-cpu, -gpu and -ref exclude each other")
	}
	if j.batch < 1 || j.real < 2 {
		return nil, usagef("-batch must be ≥ 1 and -real ≥ 2")
	}
	steps, err := parseSteps(j.steps)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return steps, nil
}
