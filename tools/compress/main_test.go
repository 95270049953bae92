package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// decode reads back both twins of name.
func decode(t *testing.T, name string) (gz, br []byte) {
	t.Helper()
	zb, err := os.ReadFile(name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zb))
	if err != nil {
		t.Fatal(err)
	}
	if gz, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(name + ".br")
	if err != nil {
		t.Fatal(err)
	}
	if br, err = io.ReadAll(brotli.NewReader(bytes.NewReader(bb))); err != nil {
		t.Fatal(err)
	}
	return gz, br
}

func TestTwins(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.wasm")
	in := []byte(strings.Repeat("\x00asm novae twins ", 5000))
	if err := os.WriteFile(name, in, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Twins(name, 5)
	if err != nil {
		t.Fatal(err)
	}
	gz, br := decode(t, name)
	if !bytes.Equal(gz, in) || !bytes.Equal(br, in) {
		t.Fatal("a twin does not decompress to the file")
	}
	if s.Raw != int64(len(in)) || s.Gzip <= 0 || s.Gzip >= s.Raw/10 || s.Brotli <= 0 || s.Brotli >= s.Raw/10 {
		t.Errorf("sizes %+v", s)
	}
	// Unchanged: kept (same bytes), and at least as new as the file.
	before, _ := os.ReadFile(name + ".br")
	if s2, err := Twins(name, 11); err != nil || s2 != s {
		t.Errorf("second run: %+v, %v (first %+v)", s2, err, s)
	}
	after, _ := os.ReadFile(name + ".br")
	fst, _ := os.Stat(name)
	bst, _ := os.Stat(name + ".br")
	if !bytes.Equal(before, after) || bst.ModTime().Before(fst.ModTime()) {
		t.Error("an up-to-date twin was rewritten, or left older than its file")
	}
	// Changed: both rewritten.
	in2 := append([]byte("changed "), in...)
	os.WriteFile(name, in2, 0o644)
	if _, err := Twins(name, 5); err != nil {
		t.Fatal(err)
	}
	if gz, br := decode(t, name); !bytes.Equal(gz, in2) || !bytes.Equal(br, in2) {
		t.Error("the twins were not renewed after the file changed")
	}
	if _, err := Twins(filepath.Join(t.TempDir(), "missing"), 5); err == nil {
		t.Error("a missing file gave no error")
	}
}
