package pt

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// maxBroadcast caps the elements of a view that repeats storage elements
// (stride 0, as torch.expand makes): its size is not bounded by the file.
const maxBroadcast = 1 << 26

var elemSize = map[string]int{
	"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// decode returns element i of little-endian data of dtype as float32.
func decode(dtype string, b []byte, i int) float32 {
	le := binary.LittleEndian
	switch dtype {
	case "F32":
		return math.Float32frombits(le.Uint32(b[4*i:]))
	case "F16":
		return float16.Frombits(le.Uint16(b[2*i:])).Float32()
	case "BF16":
		return math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
	case "F64":
		return float32(math.Float64frombits(le.Uint64(b[8*i:])))
	case "I64":
		return float32(int64(le.Uint64(b[8*i:])))
	case "I32":
		return float32(int32(le.Uint32(b[4*i:])))
	case "I16":
		return float32(int16(le.Uint16(b[2*i:])))
	case "I8":
		return float32(int8(b[i]))
	case "U8":
		return float32(b[i])
	case "BOOL":
		if b[i] != 0 {
			return 1
		}
	}
	return 0
}

// materialise copies a strided view out of its storage in row-major order.
func (a *archive) materialise(t *tensorRef) (*Tensor, error) {
	st := t.storage
	if len(t.size) != len(t.stride) || t.offset < 0 {
		return nil, fmt.Errorf("bad view: offset %d, size %v, stride %v", t.offset, t.size, t.stride)
	}
	// numel, and the last storage index the view touches, without overflow.
	n, last := 1, t.offset
	for i, d := range t.size {
		if d < 0 || t.stride[i] < 0 {
			return nil, fmt.Errorf("bad view: size %v, stride %v", t.size, t.stride)
		}
		if d == 0 {
			n = 0
			break
		}
		if n > math.MaxInt32*8/d || t.stride[i] > 0 && d-1 > (math.MaxInt-last)/t.stride[i] {
			return nil, fmt.Errorf("view size %v, stride %v overflows", t.size, t.stride)
		}
		n *= d
		last += (d - 1) * t.stride[i]
	}
	if n > 0 && last >= st.numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches past its storage of %d elements", t.offset, t.size, t.stride, st.numel)
	}
	if n > st.numel && n > maxBroadcast {
		return nil, fmt.Errorf("broadcast view of %d elements exceeds the %d cap", n, maxBroadcast)
	}
	data, err := a.storageBytes(st)
	if err != nil {
		return nil, err
	}
	out := &Tensor{Shape: append([]int{}, t.size...), DType: st.dtype, Data: make([]float32, n)}
	if n > 0 {
		// Odometer over the index; idx follows the storage position.
		pos := make([]int, len(t.size))
		idx := t.offset
		for i := range out.Data {
			out.Data[i] = decode(st.dtype, data, idx)
			for d := len(pos) - 1; d >= 0; d-- {
				pos[d]++
				idx += t.stride[d]
				if pos[d] < t.size[d] {
					break
				}
				idx -= pos[d] * t.stride[d]
				pos[d] = 0
			}
		}
	}
	return out, nil
}

// storageBytes reads a storage record once and keeps it while other views
// still need it.
func (a *archive) storageBytes(st *storage) ([]byte, error) {
	defer func() {
		if a.refs[st.key]--; a.refs[st.key] <= 0 {
			delete(a.cache, st.key)
		}
	}()
	es := elemSize[st.dtype]
	if st.numel > math.MaxInt/es {
		return nil, fmt.Errorf("storage %s: %d elements overflow", st.key, st.numel)
	}
	b, ok := a.cache[st.key]
	if !ok {
		f := a.files[a.prefix+"data/"+st.key]
		if f.UncompressedSize64 != uint64(st.numel*es) {
			return nil, fmt.Errorf("storage %s: record holds %d bytes, pickle says %d elements of %s", st.key, f.UncompressedSize64, st.numel, st.dtype)
		}
		var err error
		if b, err = a.readRecord(f, math.MaxInt64); err != nil { // named by the caller
			return nil, err
		}
		a.cache[st.key] = b
	}
	if len(b) != st.numel*es {
		return nil, fmt.Errorf("storage %s: record holds %d bytes, pickle says %d elements of %s", st.key, len(b), st.numel, st.dtype)
	}
	return b, nil
}
