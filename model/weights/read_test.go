package weights

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sampleTensors covers every dtype, a scalar and an empty tensor.
func sampleTensors() []Tensor {
	le := binary.LittleEndian
	f64 := make([]byte, 16)
	le.PutUint64(f64, math.Float64bits(1.5))
	le.PutUint64(f64[8:], math.Float64bits(-2))
	i64 := make([]byte, 16)
	le.PutUint64(i64, uint64(42))
	le.PutUint64(i64[8:], 0xFFFFFFFFFFFFFFFF) // -1
	return []Tensor{
		F32Tensor("b.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		F32Tensor("a.scalar", nil, []float32{7}),
		F32Tensor("empty", []int{0, 3}, nil),
		{Name: "f64", DType: F64, Shape: []int{2}, Data: f64},
		{Name: "f16", DType: F16, Shape: []int{3}, Data: []byte{0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B}}, // 1, -2, 65504
		{Name: "bf16", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3F, 0x49, 0x40}},           // 1, 3.140625
		{Name: "i64", DType: I64, Shape: []int{2}, Data: i64},
		{Name: "i32", DType: I32, Shape: []int{1}, Data: []byte{0xFE, 0xFF, 0xFF, 0xFF}}, // -2
		{Name: "i16", DType: I16, Shape: []int{1}, Data: []byte{0x00, 0x80}},             // -32768
		{Name: "i8", DType: I8, Shape: []int{3}, Data: []byte{0x81, 0x00, 0x7F}},         // -127 0 127
		{Name: "u8", DType: U8, Shape: []int{1}, Data: []byte{200}},
		{Name: "bool", DType: BOOL, Shape: []int{2}, Data: []byte{1, 0}},
	}
}

var sampleF32 = map[string][]float32{
	"b.weight": {1, 2, 3, 4, 5, 6}, "a.scalar": {7}, "empty": {},
	"f64": {1.5, -2}, "f16": {1, -2, 65504}, "bf16": {1, 3.140625},
	"i64": {42, -1}, "i32": {-2}, "i16": {-32768}, "i8": {-127, 0, 127},
	"u8": {200}, "bool": {1, 0},
}

func encode(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	tensors := sampleTensors()
	meta := map[string]string{"format": "novae", "note": "<a & b>"}
	b := encode(t, tensors, meta)
	if n := binary.LittleEndian.Uint64(b); (8+n)%8 != 0 {
		t.Errorf("header length %d: data does not start 8-aligned", n)
	}
	// Deterministic: input order does not matter.
	rev := slices.Clone(tensors)
	slices.Reverse(rev)
	if !bytes.Equal(b, encode(t, rev, meta)) {
		t.Error("output depends on tensor order")
	}
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), "mem")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	for _, x := range tensors {
		want = append(want, x.Name)
	}
	slices.Sort(want)
	if got := f.Names(); !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	for _, x := range tensors {
		info, ok := f.Info(x.Name)
		if !ok || info.DType != x.DType || !slices.Equal(info.Shape, append([]int{}, x.Shape...)) || info.Bytes != int64(len(x.Data)) {
			t.Errorf("%s: info %+v", x.Name, info)
		}
		if info.Offset%int64(x.DType.Size()) != 0 {
			t.Errorf("%s: offset %d not aligned to %d", x.Name, info.Offset, x.DType.Size())
		}
		raw, err := f.Raw(x.Name)
		if err != nil || !bytes.Equal(raw, x.Data) {
			t.Errorf("%s: raw %v %v, want %v", x.Name, raw, err, x.Data)
		}
		v, err := f.F32(x.Name)
		if err != nil || !slices.Equal(v, sampleF32[x.Name]) {
			t.Errorf("%s: F32 %v %v, want %v", x.Name, v, err, sampleF32[x.Name])
		}
	}
	if got := f.Metadata(); len(got) != 2 || got["note"] != "<a & b>" {
		t.Errorf("metadata %v", got)
	}
	if _, err := f.Raw("missing"); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

// TestGolden checks the exact bytes of a one-tensor file, as the reference
// Python safetensors writes it.
func TestGolden(t *testing.T) {
	b := encode(t, []Tensor{F32Tensor("a", []int{2}, []float32{1, 2})}, nil)
	hdr := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	hdr += strings.Repeat(" ", (8-len(hdr)%8)%8)
	want := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	want = append(want, hdr...)
	want = append(want, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40)
	if !bytes.Equal(b, want) {
		t.Errorf("got\n%q\nwant\n%q", b, want)
	}
}

func TestWriteFileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, sampleTensors(), nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, err := f.F32("f16"); err != nil || !slices.Equal(v, sampleF32["f16"]) {
		t.Errorf("f16: %v %v", v, err)
	}
	// Errors from Open name the file.
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(bad, []byte("garbage!garbage!"), 0o644)
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt file: %v", err)
	}
}

func TestWriteRejects(t *testing.T) {
	for _, ts := range [][]Tensor{
		{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}},
		{{Name: "a", DType: "F8", Shape: []int{1}, Data: make([]byte, 1)}},
		{{Name: "", DType: U8, Shape: []int{1}, Data: make([]byte, 1)}},
		{{Name: "__metadata__", DType: U8, Shape: []int{1}, Data: make([]byte, 1)}},
		{{Name: "a", DType: U8, Shape: []int{-1}}},
		{F32Tensor("a", []int{1}, []float32{1}), F32Tensor("a", []int{1}, []float32{1})},
	} {
		if err := Write(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("Write(%+v) succeeded", ts)
		}
	}
}

// raw builds a file from a header length, header text and data size.
func raw(n uint64, hdr string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	return append(append(b, hdr...), make([]byte, data)...)
}

func file(hdr string, data int) []byte { return raw(uint64(len(hdr)), hdr, data) }

func TestReadRejects(t *testing.T) {
	ent := func(name, dtype, shape, offs string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offs + `}`
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "file too short"},
		{"pytorch zip", append([]byte("PK\x03\x04\x14\x00\x00\x00"), make([]byte, 40)...), "PyTorch checkpoint"},
		{"legacy pickle", append([]byte("\x80\x02}q\x00(X\x01\x00"), make([]byte, 40)...), "legacy PyTorch checkpoint"},
		{"json", []byte(`{"format": "novae-weights", "version": 1}`), "JSON text"},
		{"header past file", raw(1000, "{}", 0), "header length 1000 exceeds the file size"},
		{"header over cap", raw(200<<20, "{}", 0), "exceeds the 104857600 byte cap"},
		{"empty header", raw(0, "", 0), "bad JSON header"},
		{"bad json", file(`{"a":`, 0), "bad JSON header"},
		{"not object", file(`[1,2]`, 0), "not an object"},
		{"trailing json", file(`{} {}`, 0), "trailing data"},
		{"duplicate", file(`{`+ent("a", "U8", "[1]", "[0,1]")+","+ent("a", "U8", "[1]", "[0,1]")+`}`, 1), "duplicate key"},
		{"bad metadata", file(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
		{"unknown dtype", file(`{`+ent("a", "F8", "[1]", "[0,1]")+`}`, 1), `unknown dtype "F8"`},
		{"missing shape", file(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, 1), "missing shape"},
		{"negative shape", file(`{`+ent("a", "U8", "[-1]", "[0,1]")+`}`, 1), "negative dimension"},
		{"overflow shape", file(`{`+ent("a", "F32", "[4294967296,4294967296]", "[0,4]")+`}`, 4), "overflows"},
		{"overflow bytes", file(`{`+ent("a", "F64", "[4611686018427387904]", "[0,8]")+`}`, 8), "does not match shape"},
		{"float shape", file(`{`+ent("a", "U8", "[1.5]", "[0,1]")+`}`, 1), "bad JSON header"},
		{"huge shape", file(`{`+ent("a", "U8", "[1e30]", "[0,1]")+`}`, 1), "bad JSON header"},
		{"three offsets", file(`{`+ent("a", "U8", "[1]", "[0,1,2]")+`}`, 1), "data_offsets must be"},
		{"negative offset", file(`{`+ent("a", "U8", "[1]", "[-1,0]")+`}`, 1), "negative data_offsets"},
		{"begin after end", file(`{`+ent("a", "U8", "[0]", "[4,0]")+`}`, 4), "begin 4 > end 0"},
		{"out of bounds", file(`{`+ent("a", "F32", "[2]", "[0,8]")+`}`, 4), "out of bounds"},
		{"length mismatch", file(`{`+ent("a", "F32", "[2]", "[0,4]")+`}`, 4), "byte length 4 does not match shape [2]"},
		{"overlap", file(`{`+ent("a", "F32", "[1]", "[0,4]")+","+ent("b", "F32", "[1]", "[2,6]")+`}`, 6), "overlaps"},
		{"hole", file(`{`+ent("a", "F32", "[1]", "[0,4]")+","+ent("b", "F32", "[1]", "[8,12]")+`}`, 12), "hole"},
		{"trailing bytes", file(`{`+ent("a", "F32", "[1]", "[0,4]")+`}`, 8), "4 trailing data bytes"},
		{"empty name", file(`{`+ent("", "U8", "[1]", "[0,1]")+`}`, 1), "empty name"},
		{"quant without tensor", file(`{"__metadata__":{"quant":"{\"w\":{\"kind\":\"int8\",\"group\":0,\"shape\":[1,1]}}"}}`, 0), `quant entry "w" has no tensor`},
		{"bad quant json", file(`{"__metadata__":{"quant":"{"}}`, 0), `bad "quant" metadata`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewFile(bytes.NewReader(c.data), int64(len(c.data)), "corrupt.safetensors")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "corrupt.safetensors") {
				t.Errorf("error %q, want it to name the file and contain %q", err, c.want)
			}
		})
	}
}
