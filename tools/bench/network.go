//go:build !js

package main

// Whole-network lines: the networks of model/ on the engine (model.GPU)
// with random weights of the full size, timed like the kernel lines. They
// are what tools/torchbench/bench.py times in PyTorch (same line format), so
// tools/bench/gpu.sh can print the ratios.

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/x448/float16"

	"novae/model"
	"novae/model/convert"
	"novae/shaders"
)

// Sizes of novae's two shipped models (models/<name>/, from the presets in
// tools/train/presets.py): "emoji": 64² images, patch 8, latent 136 = DINO
// 128 + residual 8; "digits": 32² images, patch 4, latent 72 = DINO 64 + 8.
// Both on an 8×8 grid with the same DiT.
func smallModel(name string) model.Config {
	dit := model.DiTConfig{InChannels: 136, Grid: 8, Hidden: 160, Depth: 4, Heads: 4, MLPRatio: 4,
		NumClasses: 16, QKNorm: true, LearnSigma: true}
	dec := model.DecoderConfig{ZChannels: 136, Ch: 32, ChMult: []int{1, 1, 2, 3}, NumResBlocks: 1,
		AttnRes: []int{8}, Resolution: 64, OutCh: 3, Groups: 32}
	img := 64
	if name == "digits" {
		dit.NumClasses, dit.InChannels, dec.ZChannels = 10, 72, 72
		dec.ChMult, dec.Resolution, img = []int{1, 2, 3}, 32, 32
	}
	return model.Config{Name: name, Image: img, DiT: dit, Decoder: dec, Defaults: model.OfficialDefaults, FeatureNorm: true}
}

// netConfig is the config a network line runs: SVG-XL (generation part),
// or with -small the committed fixtures' "tiny" one.
func netConfig(name string, small bool) model.Config {
	var c model.Config
	switch name {
	case "svg-xl":
		c = model.SVGXLConfig()
		if small {
			c = convert.TinyConfig()
		}
	default:
		c = smallModel(name)
	}
	c.Dino, c.Residual = nil, nil // generation needs the DiT and the decoder only
	return c
}

// randSource serves random weights for cfg (convert.RandomValues, which
// depend only on the seed and the name), with Linear weights stored as kind
// ("f32" or "f16"). The values are generated on all cores in the background
// (SVG-XL's 720M take ~30 s on one) and dropped once uploaded.
type randSource struct {
	cfg   model.Config
	ps    map[string]model.Param
	names []string
	kind  string
	order []model.Param
	start sync.Once
	vals  map[string]chan []float32 // one value each, sent by the generators
}

func newRandSource(cfg model.Config, kind string) *randSource {
	s := &randSource{cfg: cfg, ps: map[string]model.Param{}, kind: kind, vals: map[string]chan []float32{}}
	for _, p := range convert.ParamsFor(cfg) {
		if p.Optional && p.Name != model.PrefixDiT+"pos_embed" {
			continue
		}
		s.ps[p.Name] = p
		s.names = append(s.names, p.Name)
		s.vals[p.Name] = make(chan []float32, 1)
		s.order = append(s.order, p)
	}
	sort.Strings(s.names)
	return s
}

// generate starts the generators (at the first Load).
func (s *randSource) generate() {
	work := make(chan model.Param)
	for range runtime.NumCPU() {
		go func() {
			for p := range work {
				s.vals[p.Name] <- convert.RandomValues(p, s.cfg, weightSeed, weightStd)
			}
		}()
	}
	go func() { // in loading order, so the first tensors are ready first
		for _, p := range s.order {
			work <- p
		}
		close(work)
	}()
}

const (
	weightSeed = 7
	weightStd  = 0.02
)

func (s *randSource) Names() []string { return s.names }

func (s *randSource) Lookup(name string) ([]int, bool) {
	p, ok := s.ps[name]
	return p.Shape, ok
}

func (s *randSource) values(name string, keepRows int, shape []int) []float32 {
	s.start.Do(s.generate)
	v := <-s.vals[name] // each name is loaded once
	if keepRows > 0 {
		v = v[:keepRows*len(v)/shape[0]]
	}
	return v
}

func (s *randSource) Load(b model.Backend, name string, shape []int, keepRows int, fix func([]float32)) (model.Tensor, error) {
	v := s.values(name, keepRows, shape)
	if keepRows > 0 {
		shape = append([]int{keepRows}, shape[1:]...)
	}
	if fix != nil {
		fix(v)
	}
	return b.Upload(v, shape...), nil
}

func (s *randSource) LoadWeight(b model.Backend, name string, out, in, keepRows int) (model.Weight, error) {
	rows := out
	if keepRows > 0 {
		rows = keepRows
	}
	v := s.values(name, keepRows, []int{out, in})
	hw := model.HostWeight{Name: name, Out: rows, In: in, Kind: "f32", F32: v}
	if s.kind == "f16" {
		raw := make([]byte, 2*len(v))
		for i, x := range v {
			h := float16.Fromfloat32(x).Bits()
			raw[2*i], raw[2*i+1] = byte(h), byte(h>>8)
		}
		hw.Kind, hw.F32, hw.Raw = "f16", nil, raw
	}
	return b.UploadWeight(hw), nil
}

// FLOP counts (multiply-adds ×2) of what novae computes.

func ditFLOP(c model.DiTConfig, B int) float64 {
	T := float64(c.Grid * c.Grid)
	H, C := float64(c.Hidden), float64(c.InChannels)
	M := float64(B) * T
	mlp := float64(int(float64(c.Hidden) * c.MLPRatio))
	block := 2*M*H*3*H + 2*M*H*H + 2*2*M*H*mlp + // qkv, proj, fc1, fc2
		4*float64(B)*T*T*H + // q·kᵀ and p·v over all heads
		2*float64(B)*H*6*H // adaLN
	return float64(c.Depth)*block + 2*M*C*H + 2*M*H*C + 2*float64(B)*H*2*H + // ln1, final linear (velocity rows), final adaLN
		2*float64(B)*(model.FreqDim*H+H*H) // t-embedder
}

func decoderFLOP(c model.DecoderConfig, B int) float64 {
	r := c.LatentRes()
	hw := func() float64 { return float64(r * r) }
	conv := func(cin, cout, k int) float64 { return 2 * float64(cin*cout*k*k) * hw() }
	res := func(in, out int) float64 {
		f := conv(in, out, 3) + conv(out, out, 3)
		if in != out {
			f += conv(in, out, 1)
		}
		return f
	}
	attn := func(ch int) float64 { return 4*conv(ch, ch, 1) + 4*hw()*hw()*float64(ch) }
	L := len(c.ChMult)
	ch := c.Ch * c.ChMult[L-1]
	f := conv(c.ZChannels, ch, 3) + 2*res(ch, ch) + attn(ch)
	for l := L - 1; l >= 0; l-- {
		out := c.Ch * c.ChMult[l]
		for range c.NumResBlocks + 1 {
			f += res(ch, out)
			ch = out
			for _, a := range c.AttnRes {
				if a == r {
					f += attn(ch)
				}
			}
		}
		if l != 0 {
			r *= 2
			f += conv(ch, ch, 3)
		}
	}
	return float64(B) * (f + conv(ch, c.OutCh, 3))
}

// stepDispatches is the last sample run's dispatches per sampler step
// (decode excluded).
var stepDispatches float64

// netModels caches loaded models by (config, weight kind): several lines
// share one.
var netModels = map[string]*model.SVG{}

func loadNet(e *shaders.Engine, cfg model.Config, kind string) *model.SVG {
	key := cfg.Name + "/" + kind
	if m := netModels[key]; m != nil {
		return m
	}
	m, err := model.Open(model.NewGPU(e), newRandSource(cfg, kind), cfg, false)
	if err != nil {
		panic(fmt.Sprintf("random %s weights: %v", cfg.Name, err))
	}
	netModels[key] = m
	return m
}

// network returns the whole-network lines for one model config.
func networks(small bool) []bench {
	var bs []bench
	xl := netConfig("svg-xl", small)
	name := "svg-xl"
	if small {
		name = "tiny"
	}
	bs = append(bs,
		cfgStep(name, xl, "f32", "one CFG step: DiT forward at batch 2"),
		cfgStep(name, xl, "f16", "one CFG step, f16-stored weights"),
		weightStream(name, xl, "f32"),
		weightStream(name, xl, "f16"),
		decode(name, xl, "LDM decoder"),
		sample(name, xl, 4, "4-step sample (CFG 4) + decode"),
		sample(name, xl, 25, "25-step sample (CFG 4) + decode"),
	)
	for _, n := range []string{"emoji", "digits"} {
		c := netConfig(n, false)
		bs = append(bs, cfgStep(n, c, "f32", "one CFG step: DiT forward at batch 2"),
			sample(n, c, 4, "default model: 4-step sample (CFG 4) + decode"))
	}
	return bs
}

// cfgStep is one guided evaluation as model.Sample runs it: the
// conditioning of [class; null] at one t, then the DiT on batch 2.
func cfgStep(name string, cfg model.Config, kind, note string) bench {
	c := cfg.DiT
	T := c.Grid * c.Grid
	b := bench{
		Kernel: "dit_cfg_step",
		Shape:  fmt.Sprintf("%s B=2 T=%d %sw", name, T, kind),
		Note:   note,
		FLOP:   ditFLOP(c, 2),
		Net:    true,
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		m := loadNet(e, cfg, kind)
		g := model.NewGPU(e)
		x := g.Upload(randn(rng, 2*T*c.InChannels, 1), 2, T, c.InChannels)
		out := g.Alloc(2, T, c.InChannels)
		run := func() {
			cond, err := m.DiT.Condition(g, []float32{0.5, 0.5}, []int{1, c.NumClasses})
			if err != nil {
				panic(err)
			}
			m.DiT.Forward(g, out, x, cond)
			g.Free(cond.SiLUC)
		}
		return run, func() { g.Free(x, out) }
	}
	return b
}

// weightStream reads every Linear weight of the loaded DiT once (a two-row
// matmul each, memory-bound): where the weights live. In device memory the
// rate is near elementwise_add's; a weight the driver placed in system memory
// is read over PCIe (tens of GB/s) and pulls the whole line down. It is the
// probe for the f32-weight step's run-to-run variance.
func weightStream(name string, cfg model.Config, kind string) bench {
	b := bench{
		Kernel: "dit_weights",
		Shape:  fmt.Sprintf("%s %sw", name, kind),
		Note:   "every DiT weight read once (M=2); far below elementwise_add: weights outside device memory",
		Mem:    true,
		Net:    true,
	}
	size := map[string]float64{"f32": 4, "f16": 2}[kind]
	c := cfg.DiT
	H, mlp := float64(c.Hidden), float64(c.Hidden)*c.MLPRatio
	per := 3*H*H + H*H + 2*H*mlp
	all := float64(c.Depth)*(per+6*H*H) + H*float64(c.InChannels) + float64(model.FreqDim)*H + H*H + 2*H*H + H*float64(c.InChannels)
	b.Bytes, b.FLOP = size*all, 4*all
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		m := loadNet(e, cfg, kind)
		g := model.NewGPU(e)
		ws := []model.Weight{m.DiT.XEmbed, m.DiT.TMLP0, m.DiT.TMLP2, m.DiT.FinalLin}
		for i := range m.DiT.Blocks {
			blk := &m.DiT.Blocks[i]
			ws = append(ws, blk.QKV, blk.Proj, blk.FC1, blk.FC2)
		}
		for _, f := range m.DiT.Ada {
			ws = append(ws, f.W)
		}
		xs, ys := map[int]model.Tensor{}, map[int]model.Tensor{}
		for _, w := range ws {
			n, k := w.Dims()[0], w.Dims()[1]
			if xs[k] == nil {
				xs[k] = g.Upload(randn(rng, 2*k, 1), 2, k)
			}
			if ys[n] == nil {
				ys[n] = g.Alloc(2, n)
			}
		}
		run := func() {
			for _, w := range ws {
				g.Linear(ys[w.Dims()[0]], xs[w.Dims()[1]], w, nil, model.Epilogue{})
			}
		}
		return run, func() {
			for _, t := range xs {
				g.Free(t)
			}
			for _, t := range ys {
				g.Free(t)
			}
		}
	}
	return b
}

func decode(name string, cfg model.Config, note string) bench {
	d := cfg.Decoder
	r := d.LatentRes()
	b := bench{
		Kernel: "decoder",
		Shape:  fmt.Sprintf("%s B=1 %d²→%d²", name, r, d.Resolution),
		Note:   note,
		FLOP:   decoderFLOP(d, 1),
		Net:    true,
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		m := loadNet(e, cfg, "f32")
		g := model.NewGPU(e)
		z := g.Upload(randn(rng, d.ZChannels*r*r, 1), 1, d.ZChannels, r, r)
		run := func() { g.Free(m.Decoder.Forward(g, z, 1)) }
		return run, func() { g.Free(z) }
	}
	return b
}

func sample(name string, cfg model.Config, steps int, note string) bench {
	b := bench{
		Kernel: fmt.Sprintf("sample_%d", steps),
		Shape:  fmt.Sprintf("%s B=1 CFG %d steps", name, steps),
		Note:   note,
		FLOP:   float64(steps)*ditFLOP(cfg.DiT, 2) + decoderFLOP(cfg.Decoder, 1),
		Net:    true,
		Steps:  steps,
	}
	b.setup = func(e *shaders.Engine, rng *rand.Rand) (func(), func()) {
		m := loadNet(e, cfg, "f32")
		g := model.NewGPU(e)
		o := model.SampleOptions{Classes: []int{1}, Seed: 1, Steps: steps, CFG: 4, Shift: 0.15,
			Schedule: model.Schedule{Kind: "constant"}}
		run := func() {
			d0 := e.Dispatches
			z, err := model.Sample(g, m.DiT, o)
			if err != nil {
				panic(err)
			}
			stepDispatches = float64(e.Dispatches-d0) / float64(steps)
			img := m.Decode(g, z, 1)
			g.Free(z, img)
		}
		return run, func() {}
	}
	return b
}
