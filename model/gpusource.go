package model

// GPUSource: parameters that are already on the GPU. In the browser the page
// streams each weight shard from fetch straight into GPU buffers
// (device.queue.writeBuffer on the JS side), so the values never pass
// through the Go heap; Go only allocates the buffers and holds the handles.
//
// The flow:
//
//	man, _ := weights.ParseManifest(json)
//	src, cfg, _ := model.NewGPUSource(eng, man) // one buffer per stored tensor
//	for _, e := range src.Entries() { … JS fills e.T.BufferJS() from shard e.Shard … }
//	m, _ := model.Open(model.NewGPU(eng), src, cfg, true)
//
// What the buffers must hold is derived from the manifest alone: the config
// (metadata "config") gives every parameter's shape through the same Params
// lists that Open walks, and the "quant" metadata gives the stored dtype and
// shape of quantized Linear weights (model/weights/doc.go). Whoever fills the
// buffers checks each shard's safetensors header against Entries (dtype,
// shape, byte size) before writing; a mismatch is an error naming the tensor.
//
// Differences from FileSource, all by design:
//   - Plain tensors must be stored F32 (the converter writes them so); only
//     Linear weights may be f16/int8/int4. Anything else is refused.
//   - Param.Fix hooks are not applied: there is no host copy to edit. The only
//     one is DINOv3's qkv bias_mask (zeroing the K third of attn.qkv.bias),
//     which novae convert already multiplies into the stored bias.
//   - KeepRows is served as a prefix of the buffer (a view with fewer rows;
//     rows are contiguous in the PyTorch layout, scales likewise), not a copy.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"novae/model/weights"
	"novae/shaders"
)

// GPUEntry is one stored tensor of a sharded set and the GPU buffer that
// receives its bytes.
type GPUEntry struct {
	Name  string
	Shard int           // index into the manifest's Shards
	DType weights.DType // stored dtype, as in the safetensors header
	Shape []int         // stored shape
	Bytes int64         // stored size (= numel · dtype size)
	T     *shaders.Tensor
	Quant *weights.Quant // set on the data tensor K of a quantized weight
}

// GPUSource serves a model's parameters from GPU tensors (see the file
// comment). It implements Source for the GPU backend only.
type GPUSource struct {
	entries []*GPUEntry
	byName  map[string]*GPUEntry
}

// NewGPUSource reads the config and quantization table of a manifest and
// allocates one GPU tensor per stored tensor, with undefined contents. The
// caller fills them (Entries) before Open. Tensors no parameter of the
// config uses make it fail, naming them, as do dtypes the GPU path cannot
// serve.
func NewGPUSource(e *shaders.Engine, man *weights.Manifest) (*GPUSource, Config, error) {
	cfg, err := ParseConfig(man.Metadata)
	if err != nil {
		return nil, cfg, err
	}
	quant, err := weights.ParseQuant(man.Metadata)
	if err != nil {
		return nil, cfg, err
	}
	want := map[string][]int{}
	for _, p := range Skeleton(cfg, true).Params() {
		want[p.Name] = p.Shape
	}
	s := &GPUSource{byName: map[string]*GPUEntry{}}
	var bad []string
	for si, sh := range man.Shards {
		for _, name := range sh.Tensors {
			ent := &GPUEntry{Name: name, Shard: si, DType: weights.F32}
			base, isScales := strings.CutSuffix(name, weights.ScalesSuffix)
			if q, ok := quant[base]; ok && isScales {
				_, sc, err := quantStorage(q)
				if err != nil || sc == nil {
					bad = append(bad, fmt.Sprintf("%s: no scales for a %s weight", name, q.Kind))
					continue
				}
				ent.Shape = sc
			} else if q, ok := quant[name]; ok {
				k, _, err := quantStorage(q)
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: %v", name, err))
					continue
				}
				if !sameShape(q.Shape, want[name]) {
					bad = append(bad, fmt.Sprintf("%s: quantized as %v, config wants %v", name, q.Shape, want[name]))
					continue
				}
				qc := q
				ent.Quant, ent.Shape = &qc, k
				ent.DType = map[string]weights.DType{weights.QuantF16: weights.F16, weights.QuantInt8: weights.I8, weights.QuantInt4: weights.U8}[q.Kind]
			} else if shape, ok := want[name]; ok {
				ent.Shape = slices.Clone(shape)
			} else {
				bad = append(bad, name+": not a parameter of this config")
				continue
			}
			ent.Bytes = int64(numel(ent.Shape) * ent.DType.Size())
			if _, dup := s.byName[name]; dup {
				bad = append(bad, name+": listed twice")
				continue
			}
			s.entries = append(s.entries, ent)
			s.byName[name] = ent
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 12 {
			bad = append(bad[:12], fmt.Sprintf("… and %d more", len(bad)-12))
		}
		return nil, cfg, fmt.Errorf("weights cannot go to the GPU:\n  %s", strings.Join(bad, "\n  "))
	}
	// Every tensor is bound whole by the kernels: refuse, before allocating
	// anything, what this device cannot bind.
	limit := e.Limits.MaxTensor()
	for _, ent := range s.entries {
		if uint64(ent.Bytes) > limit {
			bad = append(bad, fmt.Sprintf("%s: %d bytes, this GPU binds at most %d", ent.Name, ent.Bytes, limit))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 12 {
			bad = append(bad[:12], fmt.Sprintf("… and %d more", len(bad)-12))
		}
		return nil, cfg, fmt.Errorf("%w:\n  %s", ErrTooLarge, strings.Join(bad, "\n  "))
	}
	for _, ent := range s.entries {
		ent.T = e.Alloc(shaderDType(ent.DType), ent.Shape...).Named(ent.Name)
	}
	if err := e.Err(); err != nil {
		s.Release()
		return nil, cfg, err
	}
	return s, cfg, nil
}

// ErrTooLarge is NewGPUSource's error for a model with a tensor larger than
// the device binds (maxStorageBufferBindingSize, maxBufferSize). It comes from
// the manifest alone, before anything is allocated or downloaded.
var ErrTooLarge = errors.New("weights too large for this GPU")

// quantStorage is weights' storage convention (doc.go): the stored shapes
// of K and K.scales (nil for f16).
func quantStorage(q weights.Quant) (k, scales []int, err error) {
	if len(q.Shape) < 2 {
		return nil, nil, fmt.Errorf("quantized weight needs rank ≥ 2, got %v", q.Shape)
	}
	out, in := q.Shape[0], numel(q.Shape[1:])
	if q.Group < 0 || (q.Group > 0 && in%q.Group != 0) {
		return nil, nil, fmt.Errorf("group %d does not divide %d columns", q.Group, in)
	}
	scales = []int{out}
	if q.Group > 0 {
		scales = []int{out, in / q.Group}
	}
	switch q.Kind {
	case weights.QuantF16:
		return []int{out, in}, nil, nil
	case weights.QuantInt8:
		return []int{out, in}, scales, nil
	case weights.QuantInt4:
		if q.Group == 0 || in%2 != 0 {
			return nil, nil, fmt.Errorf("int4 needs a group and an even column count")
		}
		return []int{out, in / 2}, scales, nil
	}
	return nil, nil, fmt.Errorf("unknown quantization kind %q", q.Kind)
}

func shaderDType(d weights.DType) shaders.DType {
	switch d {
	case weights.F16:
		return shaders.F16
	case weights.I8:
		return shaders.I8
	case weights.U8:
		return shaders.U8
	}
	return shaders.F32
}

// Entries lists the stored tensors in manifest order (shard by shard).
func (s *GPUSource) Entries() []*GPUEntry { return s.entries }

// Bytes is the total size of the stored tensors.
func (s *GPUSource) Bytes() int64 {
	var n int64
	for _, e := range s.entries {
		n += e.Bytes
	}
	return n
}

// Release frees every buffer (a model opened from s must not be used after).
func (s *GPUSource) Release() {
	for _, e := range s.entries {
		e.T.Release()
	}
}

// Names lists the logical tensors (scales belong to their weight).
func (s *GPUSource) Names() []string {
	var out []string
	for _, e := range s.entries {
		if base, ok := strings.CutSuffix(e.Name, weights.ScalesSuffix); ok && s.byName[base] != nil && s.byName[base].Quant != nil {
			continue
		}
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the logical shape.
func (s *GPUSource) Lookup(name string) ([]int, bool) {
	e, ok := s.byName[name]
	if !ok {
		return nil, false
	}
	if e.Quant != nil {
		return slices.Clone(e.Quant.Shape), true
	}
	return slices.Clone(e.Shape), true
}

// prefix returns a view of t's first rows rows (no copy: the same buffer
// with a shorter shape). rows ≤ 0 returns t.
func prefix(t *shaders.Tensor, rows int) *shaders.Tensor {
	if rows <= 0 || rows >= t.Shape[0] {
		return t
	}
	v := *t
	v.Shape = append([]int{rows}, t.Shape[1:]...)
	return &v
}

// Load hands out a plain F32 tensor. fix is ignored (see the file comment).
func (s *GPUSource) Load(b Backend, name string, shape []int, keepRows int, fix func([]float32)) (Tensor, error) {
	if _, ok := b.(*GPU); !ok {
		return nil, fmt.Errorf("%s: a GPUSource serves only the GPU backend, not %s", name, b.Name())
	}
	e, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	if e.Quant != nil { // a conv weight stored quantized: dequantize once, on the GPU
		w, err := s.LoadWeight(b, name, e.Quant.Shape[0], numel(e.Quant.Shape)/e.Quant.Shape[0], 0)
		if err != nil {
			return nil, err
		}
		g := b.(*GPU)
		y := g.E.Alloc(shaders.F32, shape...).Named(name)
		g.E.Dequantize(y, w.(gpuWeight).w)
		return prefix(y, keepRows), nil
	}
	if e.DType != weights.F32 {
		return nil, fmt.Errorf("%s: stored %s; the GPU path takes plain tensors only as F32", name, e.DType)
	}
	t := *e.T
	t.Shape = slices.Clone(shape) // the Param's shape (singleton dims as the network wants)
	return prefix(&t, keepRows), nil
}

// LoadWeight hands out a Linear weight in its stored kind.
func (s *GPUSource) LoadWeight(b Backend, name string, out, in, keepRows int) (Weight, error) {
	if _, ok := b.(*GPU); !ok {
		return nil, fmt.Errorf("%s: a GPUSource serves only the GPU backend, not %s", name, b.Name())
	}
	e, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	rows := out
	if keepRows > 0 && keepRows < out {
		rows = keepRows
	}
	w := shaders.Weight{W: prefix(e.T, rows), N: rows, K: in}
	if e.Quant == nil {
		if e.DType != weights.F32 {
			return nil, fmt.Errorf("%s: stored %s without a quant entry", name, e.DType)
		}
		w.Kind = shaders.WF32
		w.W = prefix(reshaped(e.T, out, in), rows)
		return WrapWeight(w), nil
	}
	w.Group = e.Quant.Group
	switch e.Quant.Kind {
	case weights.QuantF16:
		w.Kind = shaders.WF16
	case weights.QuantInt8, weights.QuantInt4:
		w.Kind = shaders.WInt8
		if e.Quant.Kind == weights.QuantInt4 {
			w.Kind = shaders.WInt4
		}
		sc, ok := s.byName[name+weights.ScalesSuffix]
		if !ok {
			return nil, fmt.Errorf("%s: no %s", name, weights.ScalesSuffix)
		}
		perRow := numel(sc.Shape) / sc.Shape[0] // 1, or in/Group
		w.Scales = reshaped(sc.T, rows*perRow)  // a flat prefix, as UploadWeight makes it
	}
	return WrapWeight(w), nil
}

// reshaped returns a view of t with another shape of the same size.
func reshaped(t *shaders.Tensor, shape ...int) *shaders.Tensor {
	v := *t
	v.Shape = shape
	return &v
}
