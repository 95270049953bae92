package pt

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// FuzzReadFrom: any bytes give a checkpoint or an error naming the file,
// never a panic.
// Run with: go test ./model/pt/ -run '^$' -fuzz FuzzReadFrom -fuzztime 60s
func FuzzReadFrom(f *testing.F) {
	for _, name := range []string{"plain", "views", "nested", "dtypes", "model_ema", "legacy"} {
		b, err := os.ReadFile("testdata/" + name + ".pt")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadFrom(bytes.NewReader(b), int64(len(b)), "fuzz.pt")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.pt") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		for _, k := range c.Keys {
			if tt := c.Tensors[k]; tt == nil {
				t.Fatalf("%s: nil tensor", k)
			}
		}
	})
}

// FuzzPickle fuzzes the pickle alone: the mutated data.pkl is put back into
// a fixture's archive (whose zip checksums would otherwise reject almost
// every mutation before the unpickler saw it), with that fixture's storage
// records. Run with: go test ./model/pt/ -run '^$' -fuzz FuzzPickle -fuzztime 60s
func FuzzPickle(f *testing.F) {
	type fixture struct{ records map[string][]byte }
	var fixtures []fixture
	for i, name := range []string{"plain", "views", "nested", "dtypes", "model_ema"} {
		b, err := os.ReadFile("testdata/" + name + ".pt")
		if err != nil {
			f.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		fx := fixture{records: map[string][]byte{}}
		for _, zf := range zr.File {
			rc, err := zf.Open()
			if err != nil {
				f.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				f.Fatal(err)
			}
			if strings.HasSuffix(zf.Name, "data.pkl") {
				f.Add(uint8(i), data)
			}
			fx.records[zf.Name] = data
		}
		fixtures = append(fixtures, fx)
	}
	f.Fuzz(func(t *testing.T, which uint8, pkl []byte) {
		fx := fixtures[int(which)%len(fixtures)]
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, data := range fx.records {
			if strings.HasSuffix(name, "data.pkl") {
				data = pkl
			}
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
			w.Write(data)
		}
		zw.Close()
		b := buf.Bytes()
		c, err := ReadFrom(bytes.NewReader(b), int64(len(b)), "fuzz.pt")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.pt") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		for _, k := range c.Keys {
			tt := c.Tensors[k]
			if tt == nil {
				t.Fatalf("%s: nil tensor", k)
			}
			n := 1
			for _, d := range tt.Shape {
				n *= d
			}
			if n != len(tt.Data) {
				t.Fatalf("%s: shape %v, %d values", k, tt.Shape, len(tt.Data))
			}
		}
	})
}
