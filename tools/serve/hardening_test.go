package main

import (
	"bytes"
	"compress/gzip"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesTheRest adds to TestServe: more ways out of the tree
// (relative and absolute symlinks, a symlinked gzip twin, absolute-form and
// doubly encoded targets, a path that starts with two slashes) and the
// methods TestServe does not try. Symlinks that stay inside the tree still
// work: only leaving it is refused.
func TestServeRefusesTheRest(t *testing.T) {
	web, _ := tree(t)
	top := filepath.Dir(web)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("TOP SECRET (compressed)"))
	zw.Close()
	if err := os.WriteFile(filepath.Join(top, "secret.js.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(web, "leak.js"), []byte("public"), 0o644)
	for link, target := range map[string]string{
		"rel-escape.txt": "../secret.txt",                  // relative, out
		"abs-escape.txt": filepath.Join(top, "secret.txt"), // absolute, out
		"leak.js.gz":     "../secret.js.gz",                // the gzip twin of an honest file, out
		"alias.js":       "app.js",                         // inside: allowed
		"models/alias":   "m",                              // a directory inside: allowed
		"loop":           "loop",                           // points at itself
	} {
		if err := os.Symlink(target, filepath.Join(web, link)); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(top, "secret.js.gz"), later, later)

	h, err := NewHandler(web)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(h)
	defer s.Close()
	for _, c := range []struct {
		name, method, target string
		headers              []string
		code                 int
		body                 string
	}{
		{"relative symlink out", "GET", "/rel-escape.txt", nil, 404, ""},
		{"absolute symlink out", "GET", "/abs-escape.txt", nil, 404, ""},
		{"symlinked gzip twin out", "GET", "/leak.js", []string{"Accept-Encoding: gzip"}, 200, ""},
		{"symlink inside", "GET", "/alias.js", nil, 200, "console.log"},
		{"directory symlink inside", "GET", "/models/alias/model.json", nil, 200, "novae-weights"},
		{"symlink loop", "GET", "/loop", nil, 404, ""},
		{"absolute-form target", "GET", "http://x/../secret.txt", nil, 400, ""},
		{"double slash", "GET", "//secret.txt", nil, 404, ""},
		{"doubly encoded dots", "GET", "/%252e%252e/secret.txt", nil, 404, ""},
		{"encoded hidden", "GET", "/%2eenv", nil, 400, ""},
		{"semicolon dots", "GET", "/..;/secret.txt", nil, 400, ""},
		{"trace", "TRACE", "/index.html", nil, 405, ""},
		{"patch", "PATCH", "/index.html", []string{"Content-Length: 0"}, 405, ""},
		{"connect", "CONNECT", "127.0.0.1:22", nil, 405, ""},
		{"lowercase get", "get", "/index.html", nil, 405, ""},
		{"made-up method", "PROPFIND", "/", nil, 405, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := raw(t, s, c.method, c.target, c.headers...)
			if resp.StatusCode != c.code {
				t.Fatalf("%s %s: %d, want %d (%q)", c.method, c.target, resp.StatusCode, c.code, body)
			}
			if strings.Contains(body, "TOP SECRET") {
				t.Fatalf("%s %s leaked a file outside the tree", c.method, c.target)
			}
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(strings.NewReader(body))
				if err == nil {
					var b bytes.Buffer
					b.ReadFrom(zr)
					if strings.Contains(b.String(), "TOP SECRET") {
						t.Fatalf("%s %s leaked a compressed file outside the tree", c.method, c.target)
					}
				}
			}
			if c.body != "" && !strings.Contains(body, c.body) {
				t.Errorf("body %.80q lacks %q", body, c.body)
			}
		})
	}
}
