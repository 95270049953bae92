package weights

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// DType is an element type, spelled as in the safetensors header.
type DType string

// The dtypes this package reads and writes.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// toF32 converts little-endian raw data of dtype d to float32.
func toF32(d DType, raw []byte) ([]float32, error) {
	n := d.Size()
	if n == 0 {
		return nil, fmt.Errorf("unknown dtype %q", d)
	}
	if len(raw)%n != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %s elements", len(raw), d)
	}
	out := make([]float32, len(raw)/n)
	le := binary.LittleEndian
	for i := range out {
		b := raw[i*n:]
		switch d {
		case F64:
			out[i] = float32(math.Float64frombits(le.Uint64(b)))
		case F32:
			out[i] = math.Float32frombits(le.Uint32(b))
		case F16:
			out[i] = float16.Frombits(le.Uint16(b)).Float32()
		case BF16:
			out[i] = math.Float32frombits(uint32(le.Uint16(b)) << 16)
		case I64:
			out[i] = float32(int64(le.Uint64(b)))
		case I32:
			out[i] = float32(int32(le.Uint32(b)))
		case I16:
			out[i] = float32(int16(le.Uint16(b)))
		case I8:
			out[i] = float32(int8(b[0]))
		case U8:
			out[i] = float32(b[0])
		case BOOL:
			if b[0] != 0 {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// F32Bytes encodes float32 values as little-endian bytes.
func F32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// ToF16 rounds float32 values to IEEE half precision (round to nearest even)
// and returns the bit patterns.
func ToF16(w []float32) []uint16 {
	out := make([]uint16, len(w))
	for i, x := range w {
		out[i] = float16.Fromfloat32(x).Bits()
	}
	return out
}

// FromF16 widens half-precision bit patterns to float32 (exact).
func FromF16(h []uint16) []float32 {
	out := make([]float32, len(h))
	for i, u := range h {
		out[i] = float16.Frombits(u).Float32()
	}
	return out
}

// FromBF16 widens bfloat16 bit patterns to float32 (exact).
func FromBF16(h []uint16) []float32 {
	out := make([]float32, len(h))
	for i, u := range h {
		out[i] = math.Float32frombits(uint32(u) << 16)
	}
	return out
}

func u16Bytes(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// numel returns the element count of shape, or an error for a negative
// dimension or a count that overflows int64.
func numel(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d == 0 {
			n = 0
		}
	}
	if n == 0 {
		return 0, nil
	}
	for _, d := range shape {
		if n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}
