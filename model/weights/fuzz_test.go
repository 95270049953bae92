package weights

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
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
		wf, err := NewFile(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.safetensors") {
				t.Fatalf("the error does not name the file: %v", err)
			}
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

// FuzzManifest feeds arbitrary manifests to NewSet over two real shards: an
// error names the manifest, and a set that opens reads back every tensor.
// Run with: go test ./model/weights/ -run '^$' -fuzz FuzzManifest -fuzztime 60s
func FuzzManifest(f *testing.F) {
	dir := f.TempDir()
	path, err := WriteSharded(dir, "model", shardTensors(), map[string]string{"k": "v"}, 256)
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	m, err := ParseManifest(good)
	if err != nil {
		f.Fatal(err)
	}
	shards := map[string][]byte{}
	for _, s := range m.Shards {
		if shards[s.File], err = os.ReadFile(dir + "/" + s.File); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(good)
	bad := *m
	bad.Shards = append([]ShardInfo(nil), m.Shards...)
	bad.Shards[0].Bytes = 1 << 50
	js, _ := json.Marshal(bad)
	f.Add(js)
	bad.Shards[0] = m.Shards[0]
	bad.Shards[0].File = "../../etc/passwd"
	js, _ = json.Marshal(bad)
	f.Add(js)
	f.Add([]byte(`{"format":"novae-weights","version":1,"shards":[{"file":"x","bytes":-1,"sha256":"00"}]}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, manifest []byte) {
		wf, err := NewSet(manifest, "fuzz.json", func(file string) (io.ReaderAt, int64, error) {
			b, ok := shards[file]
			if !ok {
				return nil, 0, fmt.Errorf("no such shard")
			}
			return bytes.NewReader(b), int64(len(b)), nil
		})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("the error does not name the manifest: %v", err)
			}
			return
		}
		if err := wf.Verify(); err != nil {
			return // a digest that does not match: refused by name, tested elsewhere
		}
		for _, name := range wf.Names() {
			if _, err := wf.F32(name); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}
