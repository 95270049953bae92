package model

import (
	"fmt"
	"sort"
	"strings"
)

// Param is one named tensor a network expects, with its PyTorch shape.
// Networks list theirs (Params methods); loading, converting and random
// initialisation all walk the same list, so key names and shapes are checked
// in one place.
type Param struct {
	Name  string
	Shape []int
	// Linear marks a 2-D Linear weight [out,in]: the one kind of tensor that
	// may be stored quantized. Everything else is f32 on the backend.
	Linear bool
	T      *Tensor // where a plain tensor goes
	W      *Weight // where a Linear weight goes
	// Optional params may be absent from a file (e.g. pos_embed, which is
	// a fixed function of the grid).
	Optional bool
	// KeepRows > 0 loads only the first KeepRows rows (of a weight or a
	// bias): the DiT's learn-sigma half is never computed.
	KeepRows int
	// Fix, if set, rewrites the host values before upload (DINOv3's qkv
	// bias has its K part masked to zero by a saved bias_mask).
	Fix func([]float32)
}

func tensorP(list *[]Param, name string, dst *Tensor, shape ...int) {
	*list = append(*list, Param{Name: name, Shape: shape, T: dst})
}

func linearP(list *[]Param, name string, w *Weight, b *Tensor, out, in int) {
	*list = append(*list, Param{Name: name + ".weight", Shape: []int{out, in}, Linear: true, W: w})
	if b != nil {
		*list = append(*list, Param{Name: name + ".bias", Shape: []int{out}, T: b})
	}
}

func normP(list *[]Param, name string, g, b *Tensor, c int) {
	tensorP(list, name+".weight", g, c)
	tensorP(list, name+".bias", b, c)
}

// Source is where parameter values come from: a weights file, random init,
// or buffers the browser already filled.
type Source interface {
	// Lookup returns the shape stored for name, or false when absent.
	Lookup(name string) ([]int, bool)
	// Names lists every tensor the source holds.
	Names() []string
	// Load uploads a plain tensor to the backend as f32; keepRows > 0 keeps
	// only the first keepRows rows of dim 0; fix (may be nil) edits the
	// values first.
	Load(b Backend, name string, shape []int, keepRows int, fix func([]float32)) (Tensor, error)
	// LoadWeight uploads a Linear weight [out,in], keeping its storage kind;
	// keepRows > 0 keeps only the first keepRows output rows.
	LoadWeight(b Backend, name string, out, in, keepRows int) (Weight, error)
}

// Load fills every Param from src. It first checks the whole set — which key
// is missing, which is unexpected (under prefix), which has the wrong shape —
// and reports all of them at once.
func Load(b Backend, src Source, prefix string, ps []Param) error {
	if err := Check(src, prefix, ps); err != nil {
		return err
	}
	for _, p := range ps {
		name := prefix + p.Name
		if _, ok := src.Lookup(name); !ok {
			continue // optional and absent: the network fills it itself
		}
		var err error
		if p.Linear {
			*p.W, err = src.LoadWeight(b, name, p.Shape[0], p.Shape[1], p.KeepRows)
		} else {
			*p.T, err = src.Load(b, name, p.Shape, p.KeepRows, p.Fix)
		}
		if err != nil {
			return fmt.Errorf("loading %s: %w", name, err)
		}
	}
	return nil
}

// Check validates src against ps without loading anything.
func Check(src Source, prefix string, ps []Param) error {
	var missing, shapes, unexpected []string
	want := map[string]bool{}
	for _, p := range ps {
		name := prefix + p.Name
		want[name] = true
		shape, ok := src.Lookup(name)
		if !ok {
			if !p.Optional {
				missing = append(missing, fmt.Sprintf("%s %v", name, p.Shape))
			}
			continue
		}
		if !sameShape(shape, p.Shape) {
			shapes = append(shapes, fmt.Sprintf("%s: file has %v, config wants %v", name, shape, p.Shape))
		}
	}
	for _, n := range src.Names() {
		if strings.HasPrefix(n, prefix) && !want[n] && !ignoredKey(n) {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing)+len(shapes)+len(unexpected) == 0 {
		return nil
	}
	sort.Strings(unexpected)
	var b strings.Builder
	b.WriteString("weights do not match the config:")
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n  %s (%d):", title, len(items))
		for i, it := range items {
			if i == 12 {
				fmt.Fprintf(&b, "\n    … and %d more", len(items)-12)
				break
			}
			b.WriteString("\n    " + it)
		}
	}
	list("missing", missing)
	list("wrong shape", shapes)
	list("unexpected", unexpected)
	return fmt.Errorf("%s", b.String())
}

// ignoredKey: buffers PyTorch saves that carry no information for inference.
func ignoredKey(n string) bool {
	return strings.HasSuffix(n, ".num_batches_tracked") || strings.HasSuffix(n, "attn.qkv.bias_mask")
}

func sameShape(a, b []int) bool {
	// PyTorch keeps singleton dims (cls_token [1,1,C]); compare sizes
	// without them.
	sq := func(s []int) []int {
		var o []int
		for _, d := range s {
			if d != 1 {
				o = append(o, d)
			}
		}
		return o
	}
	a, b = sq(a), sq(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Count is the number of parameters in ps.
func Count(ps []Param) int {
	n := 0
	for _, p := range ps {
		n += numel(p.Shape)
	}
	return n
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
