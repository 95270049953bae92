package pt

import (
	"bytes"
	"os"
	"testing"
)

// FuzzReadFrom: any bytes give a checkpoint or an error, never a panic.
// Run with: go test ./model/pt/ -run '^$' -fuzz FuzzReadFrom -fuzztime 60s
func FuzzReadFrom(f *testing.F) {
	for _, name := range []string{"plain", "views"} {
		b, err := os.ReadFile("testdata/" + name + ".pt")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadFrom(bytes.NewReader(b), int64(len(b)), "fuzz.pt")
		if err != nil {
			return
		}
		for _, k := range c.Keys {
			if tt := c.Tensors[k]; tt == nil {
				t.Fatalf("%s: nil tensor", k)
			}
		}
	})
}
