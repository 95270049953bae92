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
