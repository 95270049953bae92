// Command serve serves novae's browser app: the files under one directory
// (web/ by default) and nothing else, on http://127.0.0.1 (a secure context,
// as WebGPU needs).
//
//	go run ./tools/serve [-addr 127.0.0.1:8080] [-dir web]
//
// It prints the URL, then serves:
//   - only regular files inside -dir: ".." segments, hidden names (".git"),
//     NUL and backslashes are refused, symlinks that leave the tree are not
//     followed (os.Root), directories serve their index.html and are never
//     listed;
//   - GET and HEAD only (405 otherwise);
//   - the right types (application/wasm for instantiateStreaming), with
//     X-Content-Type-Options: nosniff;
//   - compressed text and wasm, by the request's Accept-Encoding: brotli
//     from a pre-compressed "name.br" beside the file when the client accepts
//     br and the twin is at least as new (tools/compress writes it; make run
//     does), else gzip from "name.gz" likewise, else gzip compressed once and
//     kept in memory;
//   - cache headers: "immutable" for content-addressed files (a weight shard
//     requested as name?sha256=<hex> whose digest the server has checked, or
//     a file whose name carries a hex hash such as app.3f9a1c2e7b.js),
//     "no-cache" (revalidate with ETag / Last-Modified) for everything else,
//     HTML and manifests included;
//   - byte ranges and conditional requests (http.ServeContent).
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	dir := flag.String("dir", "web", "directory to serve")
	quiet := flag.Bool("q", false, "do not log requests")
	flag.Parse()
	h, err := NewHandler(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if !*quiet {
		h.Log = log.New(os.Stderr, "", log.Ltime)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	host := ln.Addr().String()
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", fmt.Sprint(a.Port))
	}
	fmt.Printf("novae: serving %s at http://%s/\n", *dir, host)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// Handler serves the files under one directory.
type Handler struct {
	root *os.Root
	Log  *log.Logger // nil: no request log

	mu     sync.Mutex
	gz     map[string]*gzEntry  // on-the-fly gzip, by path
	hashes map[string]hashEntry // sha256 of served files, by path
}

type gzEntry struct {
	size    int64
	modTime time.Time
	data    []byte
}

type hashEntry struct {
	size    int64
	modTime time.Time
	hex     string
}

// NewHandler serves dir.
func NewHandler(dir string) (*Handler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return &Handler{root: root, gz: map[string]*gzEntry{}, hashes: map[string]hashEntry{}}, nil
}

// maxGzip bounds what is compressed on the fly (and kept in memory).
const maxGzip = 64 << 20

var compressible = map[string]bool{
	".html": true, ".js": true, ".mjs": true, ".css": true, ".json": true, ".wasm": true,
	".svg": true, ".txt": true, ".md": true, ".map": true,
}

var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".webp":        "image/webp",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/plain; charset=utf-8",
	".safetensors": "application/octet-stream",
}

// hashedName matches file names that carry a content hash: name.<hex>.ext
// or name-<hex>.ext with at least 8 hex digits.
var hashedName = regexp.MustCompile(`[.-][0-9a-f]{8,}\.[a-z0-9]+$`)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, code: 200}
	h.serve(rec, r)
	if h.Log != nil {
		h.Log.Printf("%s %s %d", r.Method, r.URL.RequestURI(), rec.code)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rel, ok := cleanPath(r.URL.Path)
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	f, st, err := h.open(rel)
	if err == nil && st.IsDir() {
		f.Close()
		if !strings.HasSuffix(r.URL.Path, "/") {
			u := *r.URL
			u.Path += "/"
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
			return
		}
		rel = path.Join(rel, "index.html")
		f, st, err = h.open(rel)
	}
	if err != nil || !st.Mode().IsRegular() {
		if err == nil {
			f.Close()
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()

	ext := strings.ToLower(path.Ext(rel))
	ctype := types[ext]
	if ctype == "" {
		ctype = mime.TypeByExtension(ext)
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", h.cachePolicy(rel, r, f, st))

	if compressible[ext] {
		hd.Add("Vary", "Accept-Encoding")
		send := func(enc, variant string, data []byte, mod time.Time) {
			hd.Set("Content-Encoding", enc)
			hd.Set("ETag", etag(st, variant))
			// The whole body or nothing: no ranges of the compressed
			// bytes, and a Content-Length (ServeContent sets none when an
			// encoding is set).
			r.Header.Del("Range")
			hd.Set("Content-Length", strconv.Itoa(len(data)))
			http.ServeContent(w, r, "", mod, bytes.NewReader(data))
		}
		br, gz := acceptQ(r, "br"), acceptQ(r, "gzip")
		if br > 0 && br >= gz {
			if data, mod, ok := h.twin(rel, ".br", st); ok {
				send("br", "br", data, mod)
				return
			}
		}
		if gz > 0 {
			if data, mod, ok := h.gzipped(rel, f, st); ok {
				send("gzip", "gz", data, mod)
				return
			}
		}
	}
	hd.Set("ETag", etag(st, ""))
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// cleanPath turns a request path into a path relative to the root, refusing
// anything that could mean something outside it or a hidden file.
func cleanPath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == ".." || (strings.HasPrefix(seg, ".") && seg != ".") {
			return "", false
		}
	}
	rel := strings.TrimPrefix(path.Clean(p), "/")
	if rel == "" {
		rel = "."
	}
	return rel, true
}

func (h *Handler) open(rel string) (*os.File, fs.FileInfo, error) {
	f, err := h.root.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

func etag(st fs.FileInfo, variant string) string {
	s := fmt.Sprintf(`"%x-%x`, st.Size(), st.ModTime().UnixNano())
	if variant != "" {
		s += "-" + variant
	}
	return s + `"`
}

// acceptQ is the weight the request's Accept-Encoding gives enc (RFC 9110
// §12.5.3): 0 when it is not named or named with q=0, 1 without a q.
func acceptQ(r *http.Request, enc string) float64 {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.ReplaceAll(p, " ", ""), "=")
			if strings.EqualFold(k, "q") {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f > 1 {
					return 0
				}
				q = f
			}
		}
		return q
	}
	return 0
}

const (
	immutable = "public, max-age=31536000, immutable"
	noCache   = "no-cache"
)

// cachePolicy: immutable for content-addressed files, no-cache otherwise.
func (h *Handler) cachePolicy(rel string, r *http.Request, f *os.File, st fs.FileInfo) string {
	if hashedName.MatchString(path.Base(rel)) {
		return immutable
	}
	if want := r.URL.Query().Get("sha256"); want != "" {
		if got, err := h.digest(rel, f, st); err == nil && strings.EqualFold(got, want) {
			return immutable
		}
	}
	return noCache
}

// digest returns the file's sha256, computed once per (size, mtime).
func (h *Handler) digest(rel string, f *os.File, st fs.FileInfo) (string, error) {
	h.mu.Lock()
	e, ok := h.hashes[rel]
	h.mu.Unlock()
	if ok && e.size == st.Size() && e.modTime.Equal(st.ModTime()) {
		return e.hex, nil
	}
	hs := sha256.New()
	if _, err := io.Copy(hs, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return "", err
	}
	e = hashEntry{size: st.Size(), modTime: st.ModTime(), hex: hex.EncodeToString(hs.Sum(nil))}
	h.mu.Lock()
	h.hashes[rel] = e
	h.mu.Unlock()
	return e.hex, nil
}

// twin returns the pre-compressed file rel+ext (".br", ".gz") if it is a
// regular file inside the tree at least as new as rel.
func (h *Handler) twin(rel, ext string, st fs.FileInfo) ([]byte, time.Time, bool) {
	tf, tst, err := h.open(rel + ext)
	if err != nil {
		return nil, time.Time{}, false
	}
	defer tf.Close()
	if !tst.Mode().IsRegular() || tst.ModTime().Before(st.ModTime()) || tst.Size() > 4*maxGzip {
		return nil, time.Time{}, false
	}
	data, err := io.ReadAll(tf)
	if err != nil {
		return nil, time.Time{}, false
	}
	return data, tst.ModTime(), true
}

// gzipped returns the gzip form of a file: name.gz beside it if that is at
// least as new, else a compressed copy made once and kept.
func (h *Handler) gzipped(rel string, f *os.File, st fs.FileInfo) ([]byte, time.Time, bool) {
	if data, mod, ok := h.twin(rel, ".gz", st); ok {
		return data, mod, true
	}
	if st.Size() > maxGzip {
		return nil, time.Time{}, false
	}
	h.mu.Lock()
	e, ok := h.gz[rel]
	h.mu.Unlock()
	if ok && e.size == st.Size() && e.modTime.Equal(st.ModTime()) {
		return e.data, st.ModTime(), true
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := io.Copy(zw, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return nil, time.Time{}, false
	}
	if err := zw.Close(); err != nil {
		return nil, time.Time{}, false
	}
	e = &gzEntry{size: st.Size(), modTime: st.ModTime(), data: buf.Bytes()}
	h.mu.Lock()
	h.gz[rel] = e
	h.mu.Unlock()
	return e.data, st.ModTime(), true
}
