package model

import (
	"fmt"
	"sort"
	"strings"

	"novae/model/weights"
)

// FileSource serves parameters from a novae weights file (or sharded set).
// Quantized weights reach the backend in their stored form.
type FileSource struct {
	F *weights.File
}

// Names lists the logical tensors (scales are part of their weight).
func (s FileSource) Names() []string {
	var out []string
	for _, n := range s.F.Names() {
		if !strings.HasSuffix(n, weights.ScalesSuffix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Lookup returns the logical shape.
func (s FileSource) Lookup(name string) ([]int, bool) {
	info, ok := s.F.Info(name)
	if !ok {
		return nil, false
	}
	if info.Quant != nil {
		return info.Quant.Shape, true
	}
	return info.Shape, true
}

// Load reads a tensor as f32 (dequantizing if it was stored quantized).
func (s FileSource) Load(b Backend, name string, shape []int, keepRows int, fix func([]float32)) (Tensor, error) {
	v, err := s.F.F32(name)
	if err != nil {
		return nil, err
	}
	if keepRows > 0 {
		v = v[:keepRows*len(v)/shape[0]]
		shape = append([]int{keepRows}, shape[1:]...)
	}
	if fix != nil {
		fix(v)
	}
	return b.Upload(v, shape...), nil
}

// LoadWeight reads a Linear weight, keeping f16/int8/int4 storage.
func (s FileSource) LoadWeight(b Backend, name string, out, in, keepRows int) (Weight, error) {
	info, ok := s.F.Info(name)
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	rows := out
	if keepRows > 0 {
		rows = keepRows
	}
	hw := HostWeight{Name: name, Out: rows, In: in, Kind: "f32"}
	if info.Quant == nil {
		v, err := s.F.F32(name)
		if err != nil {
			return nil, err
		}
		hw.F32 = v[:rows*in]
		return b.UploadWeight(hw), nil
	}
	q := info.Quant
	raw, err := s.F.Raw(name)
	if err != nil {
		return nil, err
	}
	hw.Kind, hw.Group = q.Kind, q.Group
	rowBytes := len(raw) / out
	hw.Raw = raw[:rows*rowBytes]
	if q.Kind != weights.QuantF16 {
		sc, err := s.F.F32(name + weights.ScalesSuffix)
		if err != nil {
			return nil, err
		}
		hw.Scales = sc[:rows*len(sc)/out]
	}
	return b.UploadWeight(hw), nil
}

// MapSource serves f32 tensors from memory: PyTorch checkpoints read by
// model/pt, random weights, tests.
type MapSource map[string]MapTensor

// MapTensor is one tensor of a MapSource.
type MapTensor struct {
	Shape []int
	Data  []float32
}

func (s MapSource) Names() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s MapSource) Lookup(name string) ([]int, bool) {
	t, ok := s[name]
	return t.Shape, ok
}

func (s MapSource) Load(b Backend, name string, shape []int, keepRows int, fix func([]float32)) (Tensor, error) {
	v := append([]float32(nil), s[name].Data...)
	if keepRows > 0 {
		v = v[:keepRows*len(v)/shape[0]]
		shape = append([]int{keepRows}, shape[1:]...)
	}
	if fix != nil {
		fix(v)
	}
	return b.Upload(v, shape...), nil
}

func (s MapSource) LoadWeight(b Backend, name string, out, in, keepRows int) (Weight, error) {
	rows := out
	if keepRows > 0 {
		rows = keepRows
	}
	return b.UploadWeight(HostWeight{Name: name, Out: rows, In: in, Kind: "f32", F32: s[name].Data[:rows*in]}), nil
}
