package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

// tree makes web/ with a page, a wasm, a model and traps around it, and
// returns the web dir and the shard's sha256.
func tree(t *testing.T) (string, string) {
	t.Helper()
	top := t.TempDir()
	web := filepath.Join(top, "web")
	write := func(rel, s string) {
		p := filepath.Join(top, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("secret.txt", "TOP SECRET")
	write("web/index.html", "<!doctype html><title>novae</title>")
	write("web/app.js", strings.Repeat("console.log('novae');\n", 200))
	write("web/novae.wasm", "\x00asm"+strings.Repeat("\x01\x00", 500))
	write("web/app.3f9a1c2e7b.js", "hashed")
	write("web/models/m/model.json", `{"format":"novae-weights"}`)
	shard := strings.Repeat("weights!", 1000)
	write("web/models/m/model-00001.safetensors", shard)
	write("web/empty/readme.txt", "no index here")
	write("web/.env", "hidden")
	// a pre-compressed twin whose content differs, to see which one is served
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("PRECOMPRESSED"))
	zw.Close()
	write("web/pre.js", "original")
	write("web/pre.js.gz", gz.String())
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(web, "pre.js.gz"), later, later)
	if err := os.Symlink(filepath.Join(top, "secret.txt"), filepath.Join(web, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(top, filepath.Join(web, "up")); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(shard))
	return web, hex.EncodeToString(sum[:])
}

func server(t *testing.T) (*httptest.Server, string) {
	web, sum := tree(t)
	h, err := NewHandler(web)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s, sum
}

// get sends a raw request line, so the path reaches the server unaltered.
func raw(t *testing.T, s *httptest.Server, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestServe(t *testing.T) {
	s, sum := server(t)
	for _, c := range []struct {
		name, method, target string
		headers              []string
		code                 int
		ctype, cache, enc    string
		body                 string // substring, "" = any
	}{
		{"index", "GET", "/", nil, 200, "text/html; charset=utf-8", "no-cache", "", "<title>novae</title>"},
		{"index named", "GET", "/index.html", nil, 200, "text/html; charset=utf-8", "no-cache", "", "novae"},
		{"wasm", "GET", "/novae.wasm", nil, 200, "application/wasm", "no-cache", "", "\x00asm"},
		{"manifest", "GET", "/models/m/model.json", nil, 200, "application/json", "no-cache", "", "novae-weights"},
		{"shard unhashed", "GET", "/models/m/model-00001.safetensors", nil, 200, "application/octet-stream", "no-cache", "", "weights!"},
		{"shard verified hash", "GET", "/models/m/model-00001.safetensors?sha256=" + sum, nil, 200, "application/octet-stream", immutable, "", "weights!"},
		{"shard wrong hash", "GET", "/models/m/model-00001.safetensors?sha256=" + strings.Repeat("0", 64), nil, 200, "application/octet-stream", "no-cache", "", ""},
		{"hashed name", "GET", "/app.3f9a1c2e7b.js", nil, 200, "text/javascript; charset=utf-8", immutable, "", "hashed"},
		{"range", "GET", "/models/m/model-00001.safetensors", []string{"Range: bytes=8-15"}, 206, "", "", "", "weights!"},
		{"head", "HEAD", "/novae.wasm", nil, 200, "application/wasm", "no-cache", "", ""},
		{"dir redirect", "GET", "/models", nil, 301, "", "", "", ""},
		{"dir without index", "GET", "/empty/", nil, 404, "", "", "", ""},
		{"missing", "GET", "/nope.js", nil, 404, "", "", "", ""},
		{"traversal", "GET", "/../secret.txt", nil, 400, "", "", "", ""},
		{"traversal deep", "GET", "/models/../../secret.txt", nil, 400, "", "", "", ""},
		{"traversal encoded", "GET", "/%2e%2e/secret.txt", nil, 400, "", "", "", ""},
		{"traversal encoded slash", "GET", "/models/..%2f..%2fsecret.txt", nil, 400, "", "", "", ""},
		{"backslash", "GET", "/..%5csecret.txt", nil, 400, "", "", "", ""},
		{"nul", "GET", "/index.html%00.js", nil, 400, "", "", "", ""},
		{"hidden", "GET", "/.env", nil, 400, "", "", "", ""},
		{"symlink out", "GET", "/escape.txt", nil, 404, "", "", "", ""},
		{"symlink dir out", "GET", "/up/secret.txt", nil, 404, "", "", "", ""},
		{"post", "POST", "/index.html", []string{"Content-Length: 0"}, 405, "", "", "", ""},
		{"put", "PUT", "/index.html", []string{"Content-Length: 0"}, 405, "", "", "", ""},
		{"delete", "DELETE", "/index.html", nil, 405, "", "", "", ""},
		{"options", "OPTIONS", "/index.html", nil, 405, "", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := raw(t, s, c.method, c.target, c.headers...)
			if resp.StatusCode != c.code {
				t.Fatalf("%s %s: %d, want %d (%q)", c.method, c.target, resp.StatusCode, c.code, body)
			}
			if strings.Contains(body, "TOP SECRET") {
				t.Fatalf("%s %s leaked a file outside the tree", c.method, c.target)
			}
			check := func(h, want string) {
				if got := resp.Header.Get(h); want != "" && got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			check("Content-Type", c.ctype)
			check("Cache-Control", c.cache)
			check("Content-Encoding", c.enc)
			if c.body != "" && !strings.Contains(body, c.body) {
				t.Errorf("body %.80q lacks %q", body, c.body)
			}
			if c.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if c.code == 200 && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
}

func TestGzip(t *testing.T) {
	s, _ := server(t)
	gunzip := func(body string) string {
		zr, err := gzip.NewReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		target, accept string
		gz             bool
		want           string
	}{
		{"/app.js", "gzip, deflate, br", true, "console.log('novae');"},
		{"/novae.wasm", "gzip", true, "\x00asm"},
		{"/app.js", "", false, "console.log"},
		{"/app.js", "gzip;q=0", false, "console.log"},
		{"/pre.js", "gzip", true, "PRECOMPRESSED"},                            // the .gz beside it
		{"/models/m/model-00001.safetensors", "gzip", false, "weights!"},      // binary: never
		{"/models/m/model.json", "br;q=1, gzip;q=0.5", true, "novae-weights"}, // on the fly
	} {
		hs := []string{}
		if c.accept != "" {
			hs = append(hs, "Accept-Encoding: "+c.accept)
		}
		resp, body := raw(t, s, "GET", c.target, hs...)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", c.target, resp.StatusCode)
		}
		gz := resp.Header.Get("Content-Encoding") == "gzip"
		if gz != c.gz {
			t.Errorf("%s (Accept-Encoding %q): gzip %v, want %v", c.target, c.accept, gz, c.gz)
			continue
		}
		if gz {
			if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(body)) {
				t.Errorf("%s: Content-Length %q for %d bytes", c.target, cl, len(body))
			}
			body = gunzip(body)
			if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("%s: no Vary", c.target)
			}
		}
		if !strings.Contains(body, c.want) {
			t.Errorf("%s: body %.60q lacks %q", c.target, body, c.want)
		}
	}
	// A range of a compressed response is not served: the whole body is.
	resp, body := raw(t, s, "GET", "/app.js", "Accept-Encoding: gzip", "Range: bytes=0-9")
	if resp.StatusCode != 200 || !strings.Contains(gunzip(body), "console.log") {
		t.Errorf("range with gzip: %d", resp.StatusCode)
	}
	// Conditional request: the ETag of the gzip form revalidates.
	resp, _ = raw(t, s, "GET", "/app.js", "Accept-Encoding: gzip")
	et := resp.Header.Get("ETag")
	resp, _ = raw(t, s, "GET", "/app.js", "Accept-Encoding: gzip", "If-None-Match: "+et)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", et, resp.StatusCode)
	}
}

func TestCleanPath(t *testing.T) {
	for p, want := range map[string]string{"/": ".", "/a/b.js": "a/b.js", "/a//b": "a/b", "/a/./b": "a/b"} {
		if got, ok := cleanPath(p); !ok || got != want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
	for _, p := range []string{"", "a", "/..", "/a/../b", "/.git/config", "/a\\b", "/a\x00"} {
		if got, ok := cleanPath(p); ok {
			t.Errorf("cleanPath(%q) = %q, accepted", p, got)
		}
	}
}

// TestBrotli: a pre-compressed name.br is sent to clients that accept br
// (and prefer it at least as much as gzip), gzip to the others, the file
// itself to clients that accept neither; a .br older than its file is
// stale and never sent.
func TestBrotli(t *testing.T) {
	web, _ := tree(t)
	wasm, err := os.ReadFile(filepath.Join(web, "novae.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	var br bytes.Buffer
	bw := brotli.NewWriter(&br)
	bw.Write(wasm)
	bw.Close()
	later := time.Now().Add(time.Minute)
	for name, data := range map[string][]byte{"novae.wasm.br": br.Bytes(), "app.js.br": []byte("stale")} {
		os.WriteFile(filepath.Join(web, name), data, 0o644)
	}
	os.Chtimes(filepath.Join(web, "novae.wasm.br"), later, later)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(web, "app.js.br"), old, old)
	h, err := NewHandler(web)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(h)
	defer s.Close()
	for _, c := range []struct {
		target, accept, enc string
	}{
		{"/novae.wasm", "gzip, deflate, br, zstd", "br"}, // what Chromium sends
		{"/novae.wasm", "br", "br"},
		{"/novae.wasm", "BR;q=0.9, gzip;q=0.9", "br"},
		{"/novae.wasm", "br;q=0.5, gzip", "gzip"},
		{"/novae.wasm", "br;q=0, gzip", "gzip"},
		{"/novae.wasm", "gzip", "gzip"},
		{"/novae.wasm", "", ""},
		{"/novae.wasm", "identity", ""},
		{"/app.js", "br, gzip", "gzip"}, // its .br is older than it
	} {
		hs := []string{}
		if c.accept != "" {
			hs = append(hs, "Accept-Encoding: "+c.accept)
		}
		resp, body := raw(t, s, "GET", c.target, hs...)
		if got := resp.Header.Get("Content-Encoding"); resp.StatusCode != 200 || got != c.enc {
			t.Errorf("%s, Accept-Encoding %q: %d, Content-Encoding %q, want %q", c.target, c.accept, resp.StatusCode, got, c.enc)
			continue
		}
		var plain []byte
		switch c.enc {
		case "br":
			plain, err = io.ReadAll(brotli.NewReader(strings.NewReader(body)))
		case "gzip":
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(strings.NewReader(body)); err == nil {
				plain, err = io.ReadAll(zr)
			}
		default:
			plain = []byte(body)
		}
		if err != nil {
			t.Fatalf("%s as %q: %v", c.target, c.enc, err)
		}
		if c.target == "/novae.wasm" && !bytes.Equal(plain, wasm) {
			t.Errorf("%s as %q: %d bytes that are not the file", c.target, c.enc, len(plain))
		}
		if c.target == "/novae.wasm" && resp.Header.Get("Content-Type") != "application/wasm" {
			t.Errorf("%s as %q: Content-Type %q", c.target, c.enc, resp.Header.Get("Content-Type"))
		}
	}
	// The br form has its own ETag, and revalidates.
	resp, _ := raw(t, s, "GET", "/novae.wasm", "Accept-Encoding: br")
	et := resp.Header.Get("ETag")
	if !strings.HasSuffix(et, `-br"`) {
		t.Errorf("ETag of the br form: %s", et)
	}
	if resp, _ = raw(t, s, "GET", "/novae.wasm", "Accept-Encoding: br", "If-None-Match: "+et); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", et, resp.StatusCode)
	}
}
