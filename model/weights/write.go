package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
)

// Tensor is a tensor to write: little-endian data in dtype DType.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32Tensor makes an F32 tensor from float32 values.
func F32Tensor(name string, shape []int, data []float32) Tensor {
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: F32Bytes(data)}
}

// check verifies that the data length matches dtype and shape.
func (t Tensor) check() error {
	if t.Name == "" || t.Name == "__metadata__" {
		return fmt.Errorf("weights: bad tensor name %q", t.Name)
	}
	if t.DType.Size() == 0 {
		return fmt.Errorf("weights: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	s64 := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		s64[i] = int64(d)
	}
	n, err := numel(s64)
	if err != nil {
		return fmt.Errorf("weights: tensor %q: %v", t.Name, err)
	}
	if n*int64(t.DType.Size()) != int64(len(t.Data)) {
		return fmt.Errorf("weights: tensor %q: %d bytes for shape %v of %s", t.Name, len(t.Data), t.Shape, t.DType)
	}
	return nil
}

func checkAll(tensors []Tensor) error {
	seen := map[string]bool{}
	for _, t := range tensors {
		if err := t.check(); err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("weights: duplicate tensor %q", t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

type headerEntry struct {
	DType   DType    `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// dataOrder sorts tensors by decreasing element size, then by name, like the
// reference safetensors writer: every tensor starts aligned to its element
// size, so a browser can view it in place as a typed array.
func dataOrder(tensors []Tensor) []Tensor {
	s := slices.Clone(tensors)
	sort.SliceStable(s, func(i, j int) bool {
		if a, b := s[i].DType.Size(), s[j].DType.Size(); a != b {
			return a > b
		}
		return s[i].Name < s[j].Name
	})
	return s
}

// Write writes tensors and metadata as one safetensors file. The output is
// deterministic: it depends only on the set of tensors, not on their order.
func Write(w io.Writer, tensors []Tensor, meta map[string]string) error {
	if err := checkAll(tensors); err != nil {
		return err
	}
	ordered := dataOrder(tensors)
	hdr := map[string]any{}
	var off int64
	for _, t := range ordered {
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar is "shape": [], never null
		}
		hdr[t.Name] = headerEntry{t.DType, shape, [2]int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	if len(meta) > 0 {
		hdr["__metadata__"] = meta
	}
	js, err := marshal(hdr)
	if err != nil {
		return err
	}
	for len(js)%8 != 0 { // spec: pad with spaces so the data starts 8-aligned
		js = append(js, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	bw.Write(n[:])
	bw.Write(js)
	for _, t := range ordered {
		bw.Write(t.Data)
	}
	return bw.Flush()
}

// WriteFile writes a safetensors file at path.
func WriteFile(path string, tensors []Tensor, meta map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := Write(f, tensors, meta); err != nil {
		f.Close()
		return fmt.Errorf("weights: %s: %w", path, err)
	}
	return f.Close()
}

// marshal encodes v as compact JSON without HTML escaping (map keys sorted).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
