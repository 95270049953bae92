package convert

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"novae/model"
	"novae/model/weights"
)

// RandomValues returns the random values of one param: scale-like tensors
// (norm weights, LayerScale gammas, latent.std) are 1 + std·N(0,1),
// everything else std·N(0,1); the fixed tables keep their defined values
// (dit.pos_embed the 2-D sin-cos table, DINOv3's rope_embed.periods) and
// DINOv3's qkv bias has its K third zero, as in a converted checkpoint.
// The values depend only on (seed, name), not on the other params.
func RandomValues(p model.Param, cfg model.Config, seed uint64, std float32) []float32 {
	switch p.Name {
	case model.PrefixDiT + "pos_embed":
		return model.PosEmbed2D(cfg.DiT.Hidden, cfg.DiT.Grid)
	case model.PrefixDino + "rope_embed.periods":
		return model.DefaultPeriods(cfg.Dino.Dim / cfg.Dino.Heads)
	}
	h := fnv.New64a()
	h.Write([]byte(p.Name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	v := make([]float32, numel(p.Shape))
	var base float32
	if isScale(p) {
		base = 1
	}
	for i := range v {
		v[i] = base + std*float32(r.NormFloat64())
	}
	if p.Name == model.KeyStd {
		for i, x := range v {
			v[i] = max(x, 0.1) // a scale: keep it positive
		}
	}
	if strings.HasPrefix(p.Name, model.PrefixDino) && strings.HasSuffix(p.Name, ".attn.qkv.bias") {
		d := len(v) / 3
		clear(v[d : 2*d])
	}
	return v
}

// isScale: a per-channel multiplier (norm weight, LayerScale gamma,
// latent.std) that sits around 1 in a trained model.
func isScale(p model.Param) bool {
	if p.Name == model.KeyStd {
		return true
	}
	if p.Linear || len(p.Shape) != 1 {
		return false
	}
	if strings.HasSuffix(p.Name, ".gamma") {
		return true
	}
	mod, ok := strings.CutSuffix(p.Name, ".weight")
	if !ok {
		return false
	}
	last := mod[strings.LastIndex(mod, ".")+1:]
	return strings.Contains(last, "norm") || strings.HasPrefix(last, "ln")
}

// RandomPack packs random weights for cfg (see RandomValues), generating and
// quantizing one tensor at a time: a full SVG-XL set never exists twice in
// memory, and a quantized one never exists as f32. Optional params are left
// out except dit.pos_embed (a real checkpoint has it).
func RandomPack(cfg model.Config, seed uint64, std float32, q Quant) (*Packed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return Pack(ParamsFor(cfg), q, func(p model.Param) ([]int, []float32, bool, error) {
		if p.Optional && p.Name != model.PrefixDiT+"pos_embed" {
			return nil, nil, false, nil
		}
		return p.Shape, RandomValues(p, cfg, seed, std), true, nil
	})
}

// Random returns F32 random weights for cfg (see RandomValues), ready for
// weights.Write with Metadata(cfg, …). It panics on an invalid config.
func Random(cfg model.Config, seed uint64, std float32) []weights.Tensor {
	p, err := RandomPack(cfg, seed, std, Quant{})
	if err != nil {
		panic(fmt.Sprintf("convert.Random: %v", err))
	}
	return p.Tensors
}
