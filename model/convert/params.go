package convert

import (
	"fmt"
	"slices"
	"strings"

	"novae/model"
)

// ParamsFor lists every tensor a novae file of cfg holds, with its file key
// and shape, in storage order: DiT, decoder, latent statistics, then the
// encoders (so a generation-only reader finds what it needs first). The
// encoders are included when cfg has both; the statistics when
// cfg.FeatureNorm. It builds the same skeleton as model.Open.
func ParamsFor(cfg model.Config) []model.Param {
	ps := model.Skeleton(cfg, true).Params()
	rank := func(name string) int {
		switch {
		case strings.HasPrefix(name, model.PrefixDiT):
			return 0
		case strings.HasPrefix(name, model.PrefixDecoder), strings.HasPrefix(name, model.PrefixPostQuant):
			return 1
		case name == model.KeyMean || name == model.KeyStd:
			return 2
		case strings.HasPrefix(name, model.PrefixDino), strings.HasPrefix(name, model.PrefixQuant):
			return 3
		}
		return 4
	}
	slices.SortStableFunc(ps, func(a, b model.Param) int { return rank(a.Name) - rank(b.Name) })
	return ps
}

// Network names the part of the model a file key belongs to: "dit",
// "decoder" (with a VAE's post_quant_conv), "encoder" (DINOv3, or a VAE's
// encoder with quant_conv), "extra_vit" (residual ViT), "latent", or
// "other".
func Network(key string) string {
	switch {
	case strings.HasPrefix(key, model.PrefixPostQuant):
		return "decoder"
	case strings.HasPrefix(key, model.PrefixQuant):
		return "encoder"
	}
	for _, p := range []string{model.PrefixDiT, model.PrefixDecoder, model.PrefixDino, model.PrefixResidual} {
		if strings.HasPrefix(key, p) {
			return strings.TrimSuffix(p, ".")
		}
	}
	if key == model.KeyMean || key == model.KeyStd {
		return "latent"
	}
	return "other"
}

// Mismatch lists every way a tensor set differs from a config's parameter
// list. Its Error prints all of them.
type Mismatch struct {
	Config     string   // what the set was checked against
	Missing    []string // "key [shape]"
	WrongShape []string // "key: have [..], config wants [..]"
	Unexpected []string // "key [shape]"
}

func (m *Mismatch) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the tensors do not match %s:", m.Config)
	list := func(title string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(&b, "\n  %s (%d):", title, len(items))
			for _, it := range items {
				b.WriteString("\n    " + it)
			}
		}
	}
	list("missing", m.Missing)
	list("wrong shape", m.WrongShape)
	list("unexpected", m.Unexpected)
	return b.String()
}

// check compares a key → shape set with ps, the way model.Check does
// (singleton dimensions do not count, optional params may be absent), and
// returns every difference, or nil.
func check(shapes map[string][]int, ps []model.Param, what string) *Mismatch {
	m := &Mismatch{Config: what}
	want := map[string]bool{}
	for _, p := range ps {
		want[p.Name] = true
		s, ok := shapes[p.Name]
		if !ok {
			if !p.Optional {
				m.Missing = append(m.Missing, fmt.Sprintf("%s %v", p.Name, p.Shape))
			}
			continue
		}
		if !sameShape(s, p.Shape) {
			m.WrongShape = append(m.WrongShape, fmt.Sprintf("%s: have %v, config wants %v", p.Name, s, p.Shape))
		}
	}
	for _, k := range sortedKeys(shapes) {
		if !want[k] {
			m.Unexpected = append(m.Unexpected, fmt.Sprintf("%s %v", k, shapes[k]))
		}
	}
	if len(m.Missing)+len(m.WrongShape)+len(m.Unexpected) == 0 {
		return nil
	}
	return m
}

func sameShape(a, b []int) bool {
	sq := func(s []int) []int {
		var o []int
		for _, d := range s {
			if d != 1 {
				o = append(o, d)
			}
		}
		return o
	}
	return slices.Equal(sq(a), sq(b))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
