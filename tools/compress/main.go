// Command compress writes the pre-compressed twins a static server sends
// instead of a file when the browser accepts them: name.br (brotli, quality
// 11) and name.gz (gzip, level 9), beside each file given. Each twin is
// written only when it is missing or older than its file, so a rebuild that
// did not change the file costs nothing. It prints the sizes.
//
//	go run ./tools/compress [-q] FILE...
//
// tools/serve and any host that serves pre-compressed files (nginx's
// gzip_static and brotli_static, Caddy's precompressed, a CDN) pick the
// twin by the request's Accept-Encoding; see the README's hosting section.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/andybalholm/brotli"
)

func main() {
	quiet := flag.Bool("q", false, "do not print sizes")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compress [-q] FILE...")
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		sizes, err := Twins(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compress:", err)
			os.Exit(1)
		}
		if !*quiet {
			fmt.Printf("%s: %d bytes, gzip %d (%.1f%%), brotli %d (%.1f%%)\n", name, sizes.Raw,
				sizes.Gzip, 100*float64(sizes.Gzip)/float64(sizes.Raw), sizes.Brotli, 100*float64(sizes.Brotli)/float64(sizes.Raw))
		}
	}
}

// Sizes are a file's bytes and its twins'.
type Sizes struct{ Raw, Gzip, Brotli int64 }

// Twins writes name.gz and name.br where they are missing or older than
// name, and returns the three sizes.
func Twins(name string) (Sizes, error) {
	st, err := os.Stat(name)
	if err != nil {
		return Sizes{}, err
	}
	if !st.Mode().IsRegular() {
		return Sizes{}, fmt.Errorf("%s is not a regular file", name)
	}
	s := Sizes{Raw: st.Size()}
	for _, t := range []struct {
		ext  string
		size *int64
		enc  func(io.Writer) io.WriteCloser
	}{
		{".gz", &s.Gzip, func(w io.Writer) io.WriteCloser { z, _ := gzip.NewWriterLevel(w, gzip.BestCompression); return z }},
		{".br", &s.Brotli, func(w io.Writer) io.WriteCloser {
			return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
		}},
	} {
		if tst, err := os.Stat(name + t.ext); err == nil && !tst.ModTime().Before(st.ModTime()) && tst.Size() > 0 {
			*t.size = tst.Size() // up to date
			continue
		}
		n, err := write(name, name+t.ext, t.enc)
		if err != nil {
			return s, err
		}
		*t.size = n
	}
	return s, nil
}

// write compresses src into dst (through a temporary file, so a reader
// never sees half a twin) and returns dst's size.
func write(src, dst string, enc func(io.Writer) io.WriteCloser) (int64, error) {
	in, err := os.ReadFile(src)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	w := enc(&buf)
	if _, err := w.Write(in); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return int64(buf.Len()), nil
}
