package weights

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestF16Bits(t *testing.T) {
	for _, c := range []struct {
		f    float32
		bits uint16
	}{
		{1, 0x3C00}, {-2, 0xC000}, {0, 0x0000}, {float32(math.Copysign(0, -1)), 0x8000},
		{65504, 0x7BFF}, {65520, 0x7C00}, // max half; 65520 rounds up to +Inf
		{1.0 / 3, 0x3555}, {0.1, 0x2E66},
		{0x1p-24, 0x0001}, {0x1p-14, 0x0400}, // smallest subnormal, smallest normal
		{1e-8, 0x0000},          // underflows
		{1 + 0x1p-11, 0x3C00},   // tie between 0x3C00 and 0x3C01: to even
		{1 + 3*0x1p-11, 0x3C02}, // tie between 0x3C01 and 0x3C02: to even
		{float32(math.Inf(-1)), 0xFC00},
	} {
		if got := ToF16([]float32{c.f})[0]; got != c.bits {
			t.Errorf("ToF16(%g) = %#04x, want %#04x", c.f, got, c.bits)
		}
	}
	for _, c := range []struct {
		bits uint16
		f    float32
	}{{0x3C00, 1}, {0xC000, -2}, {0x7BFF, 65504}, {0x0001, 0x1p-24}, {0x3555, 0.333251953125}} {
		if got := FromF16([]uint16{c.bits})[0]; got != c.f {
			t.Errorf("FromF16(%#04x) = %g, want %g", c.bits, got, c.f)
		}
	}
	if !math.IsNaN(float64(FromF16([]uint16{0x7E00})[0])) {
		t.Error("FromF16(0x7E00) is not NaN")
	}
	for _, c := range []struct {
		bits uint16
		f    float32
	}{{0x3F80, 1}, {0xC000, -2}, {0x3E80, 0.25}, {0x4049, 3.140625}, {0x7F80, float32(math.Inf(1))}} {
		if got := FromBF16([]uint16{c.bits})[0]; got != c.f {
			t.Errorf("FromBF16(%#04x) = %g, want %g", c.bits, got, c.f)
		}
	}
}

func randMatrix(out, in int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(r.NormFloat64()) * 0.05
	}
	return w
}

// checkBound asserts |w − deq| ≤ scale/2 per element (plus float32 rounding).
func checkBound(t *testing.T, w, deq, scales []float32, in, group int) {
	t.Helper()
	g := blockSize(in, group)
	for i := range w {
		s := scales[i/g]
		if d := math.Abs(float64(w[i] - deq[i])); d > float64(s)/2*(1+1e-5)+1e-12 {
			t.Fatalf("element [%d,%d]: w %g, dequant %g, |err| %g > scale/2 = %g", i/in, i%in, w[i], deq[i], d, s/2)
		}
	}
}

func TestInt8(t *testing.T) {
	for _, c := range []struct{ out, in, group int }{{1, 1, 0}, {7, 33, 0}, {16, 392, 0}, {16, 384, 32}, {5, 64, 64}, {3, 12, 3}} {
		t.Run(fmt.Sprintf("out=%d,in=%d,G=%d", c.out, c.in, c.group), func(t *testing.T) {
			w := randMatrix(c.out, c.in, 42)
			q, s, err := QuantizeInt8(w, c.out, c.in, c.group)
			if err != nil {
				t.Fatal(err)
			}
			wantS := c.out
			if c.group > 0 {
				wantS = c.out * c.in / c.group
			}
			if len(s) != wantS {
				t.Fatalf("%d scales, want %d", len(s), wantS)
			}
			// The largest |w| of each block lands on ±127.
			g := blockSize(c.in, c.group)
			for b := range s {
				var m int8
				for _, v := range q[b*g : (b+1)*g] {
					m = max(m, v, -v)
				}
				if m != 127 {
					t.Errorf("block %d: max |q| = %d, want 127", b, m)
				}
			}
			deq, err := DequantizeInt8(q, s, c.out, c.in, c.group)
			if err != nil {
				t.Fatal(err)
			}
			checkBound(t, w, deq, s, c.in, c.group)
		})
	}
}

func TestInt8Exact(t *testing.T) {
	// scale 1: round half away from zero, and a zero row gets scale 0.
	w := []float32{127, 63.5, -63.5, 0.4, 0, 0, 0, 0}
	q, s, err := QuantizeInt8(w, 2, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int8{127, 64, -64, 0, 0, 0, 0, 0}; !slices.Equal(q, want) {
		t.Errorf("q %v, want %v", q, want)
	}
	if want := []float32{1, 0}; !slices.Equal(s, want) {
		t.Errorf("scales %v, want %v", s, want)
	}
}

func TestInt4(t *testing.T) {
	for _, c := range []struct{ out, in, group int }{{1, 2, 2}, {7, 64, 32}, {16, 384, 64}, {3, 96, 32}} {
		t.Run(fmt.Sprintf("out=%d,in=%d,G=%d", c.out, c.in, c.group), func(t *testing.T) {
			w := randMatrix(c.out, c.in, 7)
			p, s, err := QuantizeInt4(w, c.out, c.in, c.group)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != c.out*c.in/2 || len(s) != c.out*c.in/c.group {
				t.Fatalf("%d bytes, %d scales", len(p), len(s))
			}
			deq, err := DequantizeInt4(p, s, c.out, c.in, c.group)
			if err != nil {
				t.Fatal(err)
			}
			checkBound(t, w, deq, s, c.in, c.group)
		})
	}
}

// TestInt4Layout pins the nibble order: column 2j low nibble, 2j+1 high.
func TestInt4Layout(t *testing.T) {
	w := []float32{
		7, -7, 0, 3.5, // scale 1: q 7 -7 0 4 → nibbles 15 1 8 12
		-14, 0, 0, 1, // scale 2: q -7 0 0 1 (0.5 rounds away) → nibbles 1 8 8 9
	}
	p, s, err := QuantizeInt4(w, 2, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x1F, 0xC8, 0x81, 0x98}; !bytes.Equal(p, want) {
		t.Errorf("packed % x, want % x", p, want)
	}
	if want := []float32{1, 2}; !slices.Equal(s, want) {
		t.Errorf("scales %v, want %v", s, want)
	}
	deq, _ := DequantizeInt4(p, s, 2, 4, 4)
	if want := []float32{7, -7, 0, 4, -14, 0, 0, 2}; !slices.Equal(deq, want) {
		t.Errorf("dequant %v, want %v", deq, want)
	}
	// Nibble 0 is −8: reachable only from data, never from QuantizeInt4.
	deq, _ = DequantizeInt4([]byte{0x00}, []float32{0.5}, 1, 2, 2)
	if want := []float32{-4, -4}; !slices.Equal(deq, want) {
		t.Errorf("nibble 0: %v, want %v", deq, want)
	}
}

func TestQuantErrors(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"int4 group 0", second(QuantizeInt4(make([]float32, 4), 1, 4, 0)), "group size > 0"},
		{"int4 odd in", second(QuantizeInt4(make([]float32, 3), 1, 3, 1)), "even number"},
		{"int8 group", second(QuantizeInt8(make([]float32, 6), 1, 6, 4)), "does not divide"},
		{"int8 size", second(QuantizeInt8(make([]float32, 5), 2, 3, 0)), "5 values for a [2,3] matrix"},
		{"int8 NaN", second(QuantizeInt8([]float32{0, nan}, 1, 2, 0)), "non-finite value NaN at [0,1]"},
		{"dequant scales", errOf(DequantizeInt8(make([]int8, 4), make([]float32, 1), 2, 2, 0)), "want 4 and 2"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, c.err, c.want)
		}
	}
}

func second[A, B any](_ A, _ B, err error) error { return err }

func errOf[A any](_ A, err error) error { return err }

// TestQuantizeFile quantizes a Linear and a conv weight, writes them with
// their metadata, and reads them back dequantized.
func TestQuantizeFile(t *testing.T) {
	lin := F32Tensor("blocks.0.attn.qkv.weight", []int{6, 64}, randMatrix(6, 64, 1))
	conv := F32Tensor("conv_in.weight", []int{4, 2, 3, 3}, randMatrix(4, 18, 2))
	half := F32Tensor("pos_embed", []int{3, 5}, randMatrix(3, 5, 3))
	tensors := []Tensor{F32Tensor("bias", []int{6}, randMatrix(1, 6, 4))}
	entries := map[string]Quant{}
	for _, c := range []struct {
		t     Tensor
		kind  string
		group int
	}{{lin, QuantInt4, 32}, {conv, QuantInt8, 0}, {half, QuantF16, 0}} {
		ts, q, err := Quantize(c.t, c.kind, c.group)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, ts...)
		entries[c.t.Name] = q
	}
	meta := map[string]string{}
	if err := SetQuant(meta, entries); err != nil {
		t.Fatal(err)
	}
	b := encode(t, tensors, meta)
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), "q.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		dtype        DType
		stored, scal []int
	}{
		{lin.Name, U8, []int{6, 32}, []int{6, 2}},
		{conv.Name, I8, []int{4, 18}, []int{4}},
		{half.Name, F16, []int{3, 5}, nil},
	} {
		info, _ := f.Info(c.name)
		if info.DType != c.dtype || !slices.Equal(info.Shape, c.stored) || info.Quant == nil {
			t.Errorf("%s: info %+v", c.name, info)
			continue
		}
		si, ok := f.Info(c.name + ScalesSuffix)
		if ok != (c.scal != nil) || ok && (si.DType != F32 || !slices.Equal(si.Shape, c.scal)) {
			t.Errorf("%s.scales: %+v %v", c.name, si, ok)
		}
		got, err := f.F32(c.name)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := toF32(F32, map[string]Tensor{lin.Name: lin, conv.Name: conv, half.Name: half}[c.name].Data)
		var scales []float32
		if ok {
			scales, _ = f.F32(c.name + ScalesSuffix)
		} else { // f16: relative half-precision rounding
			scales = []float32{0}
			for i := range orig {
				if d := math.Abs(float64(got[i] - orig[i])); d > math.Abs(float64(orig[i]))*0x1p-11 {
					t.Errorf("f16 element %d: %g vs %g", i, got[i], orig[i])
				}
			}
			continue
		}
		checkBound(t, orig, got, scales, len(orig)/info.Quant.Shape[0], info.Quant.Group)
	}
}

func TestQuantMetadataMismatch(t *testing.T) {
	ts, q, _ := Quantize(F32Tensor("w", []int{2, 4}, randMatrix(2, 4, 5)), QuantInt8, 2)
	for _, c := range []struct {
		name    string
		tensors []Tensor
		q       Quant
		want    string
	}{
		{"no scales", ts[:1], q, "missing w.scales"},
		{"wrong kind", ts, Quant{Kind: QuantInt4, Group: 2, Shape: []int{2, 4}}, "wants U8 [2 2]"},
		{"wrong shape", ts, Quant{Kind: QuantInt8, Group: 2, Shape: []int{4, 2}}, "wants I8 [4 2]"},
		{"wrong group", ts, Quant{Kind: QuantInt8, Group: 4, Shape: []int{2, 4}}, "scales want F32 [2 1]"},
		{"bad kind", ts, Quant{Kind: "int3", Shape: []int{2, 4}}, `unknown kind "int3"`},
		{"negative shape", ts, Quant{Kind: QuantInt8, Shape: []int{-2, 4}}, "negative dimension"},
	} {
		meta := map[string]string{}
		SetQuant(meta, map[string]Quant{"w": c.q})
		b := encode(t, c.tensors, meta)
		_, err := NewFile(bytes.NewReader(b), int64(len(b)), "q.safetensors")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
