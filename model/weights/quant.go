package weights

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Quantization kinds (see doc.go for the storage convention).
const (
	QuantInt8 = "int8"
	QuantInt4 = "int4"
	QuantF16  = "f16"
)

// ScalesSuffix names the scales tensor of a quantized weight K: K + ScalesSuffix.
const ScalesSuffix = ".scales"

// QuantKey is the metadata key holding the JSON map of quantized tensors.
const QuantKey = "quant"

// Quant is one entry of the "quant" metadata map.
type Quant struct {
	Kind  string `json:"kind"`  // QuantInt8, QuantInt4 or QuantF16
	Group int    `json:"group"` // input columns per scale; 0 = one scale per output row
	Shape []int  `json:"shape"` // logical shape, e.g. [out, in] in PyTorch layout
}

// rows returns the logical matrix size: out = Shape[0], in = the product of
// the other dimensions (a conv weight [out,in,kh,kw] is a [out, in·kh·kw] matrix).
func (q Quant) rows() (out, in int) {
	out, in = q.Shape[0], 1
	for _, d := range q.Shape[1:] {
		in *= d
	}
	return out, in
}

// storage returns the stored shapes of K and K.scales for this entry
// (scales nil for f16), or an error for an impossible entry.
func (q Quant) storage() (k, scales []int, err error) {
	if len(q.Shape) == 0 {
		return nil, nil, fmt.Errorf("empty logical shape")
	}
	s64 := make([]int64, len(q.Shape))
	for i, d := range q.Shape {
		s64[i] = int64(d)
	}
	if _, err := numel(s64); err != nil {
		return nil, nil, err
	}
	switch q.Kind {
	case QuantF16:
		if q.Group != 0 {
			return nil, nil, fmt.Errorf("f16 takes no group")
		}
		return q.Shape, nil, nil
	case QuantInt8, QuantInt4:
		if len(q.Shape) < 2 {
			return nil, nil, fmt.Errorf("%s needs a logical shape of rank ≥ 2, got %v", q.Kind, q.Shape)
		}
		out, in := q.rows()
		if err := checkGroup(q.Kind, in, q.Group); err != nil {
			return nil, nil, err
		}
		scales = []int{out}
		if q.Group > 0 {
			scales = []int{out, in / q.Group}
		}
		if q.Kind == QuantInt8 {
			return []int{out, in}, scales, nil
		}
		return []int{out, in / 2}, scales, nil
	}
	return nil, nil, fmt.Errorf("unknown kind %q", q.Kind)
}

func checkGroup(kind string, in, group int) error {
	switch {
	case group < 0:
		return fmt.Errorf("negative group %d", group)
	case kind == QuantInt4 && group == 0:
		return fmt.Errorf("int4 needs a group size > 0")
	case kind == QuantInt4 && in%2 != 0:
		return fmt.Errorf("int4 needs an even number of input columns, got %d", in)
	case group > 0 && in%group != 0:
		return fmt.Errorf("group %d does not divide %d input columns", group, in)
	}
	return nil
}

// ParseQuant decodes the "quant" metadata entry (an empty map when absent).
func ParseQuant(meta map[string]string) (map[string]Quant, error) {
	m := map[string]Quant{}
	s, ok := meta[QuantKey]
	if !ok {
		return m, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("bad %q metadata: %v", QuantKey, err)
	}
	return m, nil
}

// SetQuant stores entries as the "quant" metadata entry of meta.
func SetQuant(meta map[string]string, entries map[string]Quant) error {
	b, err := json.Marshal(entries) // map keys come out sorted: deterministic
	if err != nil {
		return err
	}
	meta[QuantKey] = string(b)
	return nil
}

// attachQuant checks every quant entry against the stored tensors and links
// it to the Info of K.
func (f *File) attachQuant() error {
	entries, err := ParseQuant(f.meta)
	if err != nil {
		return err
	}
	for name, q := range entries {
		ref, ok := f.refs[name]
		if !ok {
			return fmt.Errorf("quant entry %q has no tensor", name)
		}
		kShape, sShape, err := q.storage()
		if err != nil {
			return fmt.Errorf("quant entry %q: %v", name, err)
		}
		want := map[string]DType{QuantF16: F16, QuantInt8: I8, QuantInt4: U8}[q.Kind]
		if ref.info.DType != want || !slices.Equal(ref.info.Shape, kShape) {
			return fmt.Errorf("quant entry %q (%s %v) wants %s %v, stored %s %v",
				name, q.Kind, q.Shape, want, kShape, ref.info.DType, ref.info.Shape)
		}
		if sShape != nil {
			s, ok := f.refs[name+ScalesSuffix]
			if !ok {
				return fmt.Errorf("quant entry %q: missing %s%s", name, name, ScalesSuffix)
			}
			if s.info.DType != F32 || !slices.Equal(s.info.Shape, sShape) {
				return fmt.Errorf("quant entry %q: scales want F32 %v, stored %s %v", name, sShape, s.info.DType, s.info.Shape)
			}
		}
		q.Shape = slices.Clone(q.Shape)
		ref.info.Quant = &q
		f.refs[name] = ref
	}
	return nil
}

// Quantize converts t (any float or integer dtype) to the stored tensors of
// kind: [K] for f16, [K, K.scales] for int8 and int4, plus the metadata entry.
// A weight of rank > 2 is quantized as the matrix [shape[0], rest].
func Quantize(t Tensor, kind string, group int) ([]Tensor, Quant, error) {
	q := Quant{Kind: kind, Group: group, Shape: slices.Clone(t.Shape)}
	kShape, sShape, err := q.storage()
	if err != nil {
		return nil, Quant{}, fmt.Errorf("weights: quantize %q: %v", t.Name, err)
	}
	if err := t.check(); err != nil {
		return nil, Quant{}, err
	}
	w, err := toF32(t.DType, t.Data)
	if err != nil {
		return nil, Quant{}, fmt.Errorf("weights: quantize %q: %v", t.Name, err)
	}
	if kind == QuantF16 {
		return []Tensor{{Name: t.Name, DType: F16, Shape: kShape, Data: u16Bytes(ToF16(w))}}, q, nil
	}
	out, in := q.rows()
	var data []byte
	var scales []float32
	if kind == QuantInt8 {
		var qs []int8
		qs, scales, err = QuantizeInt8(w, out, in, group)
		data = make([]byte, len(qs))
		for i, v := range qs {
			data[i] = byte(v)
		}
	} else {
		data, scales, err = QuantizeInt4(w, out, in, group)
	}
	if err != nil {
		return nil, Quant{}, fmt.Errorf("weights: quantize %q: %v", t.Name, err)
	}
	dt := map[string]DType{QuantInt8: I8, QuantInt4: U8}[kind]
	return []Tensor{
		{Name: t.Name, DType: dt, Shape: kShape, Data: data},
		F32Tensor(t.Name+ScalesSuffix, sShape, scales),
	}, q, nil
}

// QuantizeInt8 quantizes the row-major matrix w [out,in] symmetrically to
// int8 with one scale per row (group 0) or per group of input columns.
func QuantizeInt8(w []float32, out, in, group int) (q []int8, scales []float32, err error) {
	if err := checkMatrix(w, out, in, QuantInt8, group); err != nil {
		return nil, nil, err
	}
	q = make([]int8, len(w))
	scales = blockScales(w, out, in, group, 127)
	g := blockSize(in, group)
	for i, x := range w {
		if s := scales[i/g]; s != 0 {
			q[i] = int8(clampRound(x/s, -127, 127))
		}
	}
	return q, scales, nil
}

// DequantizeInt8 returns w[o,i] = q[o,i]·scale.
func DequantizeInt8(q []int8, scales []float32, out, in, group int) ([]float32, error) {
	if err := checkStored(len(q), len(scales), out*in, out, in, QuantInt8, group); err != nil {
		return nil, err
	}
	w := make([]float32, len(q))
	g := blockSize(in, group)
	for i, v := range q {
		w[i] = float32(v) * scales[i/g]
	}
	return w, nil
}

// QuantizeInt4 quantizes w [out,in] to 4 bits per group of input columns:
// nibble q+8, column 2j in the low nibble of byte j and 2j+1 in the high one.
func QuantizeInt4(w []float32, out, in, group int) (packed []byte, scales []float32, err error) {
	if err := checkMatrix(w, out, in, QuantInt4, group); err != nil {
		return nil, nil, err
	}
	packed = make([]byte, len(w)/2)
	scales = blockScales(w, out, in, group, 7)
	for i, x := range w {
		var v int
		if s := scales[i/group]; s != 0 {
			v = clampRound(x/s, -8, 7)
		}
		packed[i/2] |= byte(v+8) << (4 * (i % 2))
	}
	return packed, scales, nil
}

// DequantizeInt4 returns w[o,i] = (nibble − 8)·scale.
func DequantizeInt4(packed []byte, scales []float32, out, in, group int) ([]float32, error) {
	if err := checkStored(len(packed), len(scales), out*in/2, out, in, QuantInt4, group); err != nil {
		return nil, err
	}
	w := make([]float32, out*in)
	for i := range w {
		nib := int(packed[i/2]>>(4*(i%2))) & 15
		w[i] = float32(nib-8) * scales[i/group]
	}
	return w, nil
}

func blockSize(in, group int) int {
	if group == 0 {
		return in
	}
	return group
}

// blockScales returns max|w|/qmax per block of consecutive elements (a block
// never crosses a row because the group divides in).
func blockScales(w []float32, out, in, group int, qmax float32) []float32 {
	g := blockSize(in, group)
	if g == 0 { // in == 0: no columns, one empty block per row
		return make([]float32, out)
	}
	scales := make([]float32, len(w)/g)
	for b := range scales {
		var m float32
		for _, x := range w[b*g : (b+1)*g] {
			m = max(m, float32(math.Abs(float64(x))))
		}
		scales[b] = m / qmax
	}
	return scales
}

// clampRound rounds half away from zero (math.Round) and clamps.
func clampRound(x float32, lo, hi int) int {
	return int(max(float64(lo), min(float64(hi), math.Round(float64(x)))))
}

func checkMatrix(w []float32, out, in int, kind string, group int) error {
	if out < 0 || in < 0 || len(w) != out*in {
		return fmt.Errorf("weights: %s: %d values for a [%d,%d] matrix", kind, len(w), out, in)
	}
	if err := checkGroup(kind, in, group); err != nil {
		return fmt.Errorf("weights: %s: %v", kind, err)
	}
	for i, x := range w {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("weights: %s: non-finite value %v at [%d,%d]", kind, x, i/in, i%in)
		}
	}
	return nil
}

func checkStored(nq, ns, wantQ, out, in int, kind string, group int) error {
	if out < 0 || in < 0 {
		return fmt.Errorf("weights: %s: bad matrix size [%d,%d]", kind, out, in)
	}
	if err := checkGroup(kind, in, group); err != nil {
		return fmt.Errorf("weights: %s: %v", kind, err)
	}
	wantS := out
	if group > 0 {
		wantS = out * in / group
	}
	if nq != wantQ || ns != wantS {
		return fmt.Errorf("weights: %s [%d,%d] group %d: got %d values and %d scales, want %d and %d",
			kind, out, in, group, nq, ns, wantQ, wantS)
	}
	return nil
}
