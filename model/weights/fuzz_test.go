package weights

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the reader: it must return an error or a
// file whose every tensor reads back, never panic or over-allocate.
// Run with: go test ./model/weights/ -run '^$' -fuzz FuzzOpen -fuzztime 60s
func FuzzOpen(f *testing.F) {
	ts := sampleTensors()
	qt, q, err := Quantize(F32Tensor("w", []int{2, 8}, randMatrix(2, 8, 9)), QuantInt4, 4)
	if err != nil {
		f.Fatal(err)
	}
	meta := map[string]string{}
	SetQuant(meta, map[string]Quant{"w": q})
	var buf bytes.Buffer
	Write(&buf, append(ts, qt...), meta)
	f.Add(buf.Bytes())
	buf.Reset()
	Write(&buf, []Tensor{F32Tensor("a", []int{2}, []float32{1, 2})}, nil)
	f.Add(buf.Bytes())
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, 6))
	f.Add(raw(1<<40, "{}", 0))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		wf, err := NewFile(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			return
		}
		for _, name := range wf.Names() {
			info, _ := wf.Info(name)
			b, err := wf.Raw(name)
			if err != nil || int64(len(b)) != info.Bytes {
				t.Fatalf("%s: %d bytes, info says %d: %v", name, len(b), info.Bytes, err)
			}
			if _, err := wf.F32(name); err != nil {
				t.Fatalf("%s: F32 of a validated file failed: %v", name, err)
			}
		}
	})
}
