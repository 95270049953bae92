// Command compress writes the pre-compressed twins a static server sends
// instead of a file when the browser accepts them: name.br (brotli, quality
// 11 by default) and name.gz (gzip, level 9), beside each file given. A twin
// that already holds the file's bytes is kept (only its time is renewed), so
// a rebuild that did not change the file costs a decompression, not a
// compression. It prints the sizes.
//
//	go run ./tools/compress [-q] [-brotli 11] FILE...
//
// Brotli's quality 11 takes about a minute for novae.wasm on two cores
// (12.9 MB → 2.22 MB; quality 10: 2.31 MB in 20 s; 9: 2.55 MB in 4 s; gzip
// -9: 3.13 MB): `make site` uses 11, `make run` 9.
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
	"time"

	"github.com/andybalholm/brotli"
)

func main() {
	quiet := flag.Bool("q", false, "do not print sizes")
	quality := flag.Int("brotli", brotli.BestCompression, "brotli quality, 0–11")
	flag.Parse()
	if *quality < 0 || *quality > brotli.BestCompression {
		fmt.Fprintln(os.Stderr, "compress: -brotli must be 0–11")
		os.Exit(2)
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compress [-q] FILE...")
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		sizes, err := Twins(name, *quality)
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

// Twins writes name.gz and name.br (at the given brotli quality) unless
// they already decompress to name's bytes, and returns the three sizes.
func Twins(name string, quality int) (Sizes, error) {
	in, err := os.ReadFile(name)
	if err != nil {
		return Sizes{}, err
	}
	s := Sizes{Raw: int64(len(in))}
	for _, t := range []struct {
		ext  string
		size *int64
		enc  func(io.Writer) io.WriteCloser
		dec  func(io.Reader) (io.Reader, error)
	}{
		{".gz", &s.Gzip,
			func(w io.Writer) io.WriteCloser { z, _ := gzip.NewWriterLevel(w, gzip.BestCompression); return z },
			func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{".br", &s.Brotli,
			func(w io.Writer) io.WriteCloser {
				return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: quality, LGWin: 24})
			},
			func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
	} {
		dst := name + t.ext
		if n, ok := holds(dst, in, t.dec); ok {
			now := time.Now() // servers serve a twin only when it is at least as new as its file
			if err := os.Chtimes(dst, now, now); err != nil {
				return s, err
			}
			*t.size = n
			continue
		}
		n, err := write(in, dst, t.enc)
		if err != nil {
			return s, err
		}
		*t.size = n
	}
	return s, nil
}

// holds reports whether the twin at dst decompresses to want, and its size.
func holds(dst string, want []byte, dec func(io.Reader) (io.Reader, error)) (int64, bool) {
	z, err := os.ReadFile(dst)
	if err != nil {
		return 0, false
	}
	r, err := dec(bytes.NewReader(z))
	if err != nil {
		return 0, false
	}
	got, err := io.ReadAll(io.LimitReader(r, int64(len(want))+1))
	return int64(len(z)), err == nil && bytes.Equal(got, want)
}

// write compresses in into dst (through a temporary file, so a reader
// never sees half a twin) and returns dst's size.
func write(in []byte, dst string, enc func(io.Writer) io.WriteCloser) (int64, error) {
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
