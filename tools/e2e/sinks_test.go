package e2e

// TestWebNoHTMLSinks is a lint, no browser needed: the page (web/*.js,
// web/*.html) and its Go (wasm/*.go, through syscall/js) must not use any
// API that parses a string as HTML or runs it as code. Untrusted text (file
// names, model names, error messages, URL parameters) reaches the page only
// through textContent, form values, new Option(text) and setAttribute; a
// change from textContent to innerHTML in one status line would not be seen
// by the script-injection tests whose payloads are refused or escaped before
// they reach the page, so this test looks at the source itself.
// TestHardening/markup-as-text is its counterpart in the browser.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// htmlSinks: in the page's JavaScript and HTML.
var htmlSinks = []struct{ what, re string }{
	{"innerHTML", `\binnerHTML\b`},
	{"outerHTML", `\bouterHTML\b`},
	{"insertAdjacentHTML", `\binsertAdjacentHTML\b`},
	{"document.write", `\.\s*write(ln)?\s*\(`},
	{"srcdoc", `\bsrcdoc\b`},
	{"eval", `\beval\s*\(`},
	{"the Function constructor", `\bFunction\s*\(`},
	{"a timer given a string", `\bset(Timeout|Interval)\s*\(\s*["'` + "`]"},
	{"createContextualFragment", `\bcreateContextualFragment\b`},
	{"DOMParser", `\bDOMParser\b`},
	{"setHTML / setHTMLUnsafe / parseHTMLUnsafe", `\b(setHTML|setHTMLUnsafe|parseHTMLUnsafe)\b`},
	{"a javascript: URL", `(?i)\bjavascript:`},
}

// goSinks: the same APIs named as strings in Go (js.Value.Set/Get/Call).
var goSinks = []struct{ what, re string }{
	{"an HTML or code sink through syscall/js", `"(innerHTML|outerHTML|insertAdjacentHTML|srcdoc|eval|Function|write|writeln|createContextualFragment|DOMParser|setHTML|setHTMLUnsafe|parseHTMLUnsafe)"`},
}

// allowedSinks lists uses shown to be safe, as "file: the line, trimmed" →
// why. None so far; an entry that matches nothing fails the test.
var allowedSinks = map[string]string{}

type sinkHit struct {
	file string
	line int
	what string
	text string
}

func (h sinkHit) String() string { return fmt.Sprintf("%s:%d: %s: %s", h.file, h.line, h.what, h.text) }

func (h sinkHit) key() string { return h.file + ": " + h.text }

// scanSinks reports each line of src that matches one of the patterns.
// Comments are scanned too: a comment that names a sink is reworded.
func scanSinks(file string, src []byte, pats []struct{ what, re string }) []sinkHit {
	res := make([]*regexp.Regexp, len(pats))
	for i, p := range pats {
		res[i] = regexp.MustCompile(p.re)
	}
	var hits []sinkHit
	for i, line := range strings.Split(string(src), "\n") {
		for k, p := range pats {
			if res[k].MatchString(line) {
				hits = append(hits, sinkHit{file, i + 1, p.what, strings.TrimSpace(line)})
			}
		}
	}
	return hits
}

func TestWebNoHTMLSinks(t *testing.T) {
	var files []string
	for _, glob := range []string{"web/*.js", "web/*.html", "wasm/*.go"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, glob))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	n := map[string]int{}
	used := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, f)
		n[filepath.Ext(f)]++
		pats := htmlSinks
		if strings.HasSuffix(f, ".go") {
			pats = goSinks
		}
		for _, h := range scanSinks(filepath.ToSlash(rel), src, pats) {
			if _, ok := allowedSinks[h.key()]; ok {
				used[h.key()] = true
				continue
			}
			t.Errorf("%s (untrusted text must go through textContent, form values or new Option; if this use is provably safe, add it to allowedSinks with the reason)", h)
		}
	}
	if n[".js"] < 4 || n[".html"] < 2 || n[".go"] < 5 {
		t.Fatalf("scanned %v files: not the page's sources (repoRoot %s)", n, repoRoot)
	}
	for k := range allowedSinks {
		if !used[k] {
			t.Errorf("allowedSinks has %q, which is no longer in the sources: remove it", k)
		}
	}
	t.Logf("scanned %d JavaScript, %d HTML and %d Go files", n[".js"], n[".html"], n[".go"])
}

// TestScanSinks checks the patterns themselves on lines that must and must
// not be reported.
func TestScanSinks(t *testing.T) {
	bad := []string{
		`statusEl.innerHTML = text;`,
		`el["innerHTML"] = x`,
		`document.body.outerHTML`,
		`el.insertAdjacentHTML("beforeend", s)`,
		`document.write("<p>" + s)`,
		`frame.contentDocument.writeln(s)`,
		`frame.srcdoc = page`,
		`f.setAttribute("srcdoc", page)`,
		`eval(code)`,
		`new Function("a", body)`,
		`const f = Function("return this")()`,
		`setTimeout("go()", 10)`,
		"setInterval(`tick()`, 10)",
		`document.createRange().createContextualFragment(s)`,
		`new DOMParser().parseFromString(s, "text/html")`,
		`el.setHTMLUnsafe(s)`,
		`a.href = "javascript:void(0)"`,
	}
	for _, l := range bad {
		if h := scanSinks("x.js", []byte(l), htmlSinks); len(h) == 0 {
			t.Errorf("not reported: %s", l)
		}
	}
	good := []string{
		`statusEl.textContent = text;`,
		`sel.append(new Option(n, n))`,
		`device.queue.writeBuffer(buf, 0, data)`,
		`setTimeout(() => go(), 10)`,
		`el.setAttribute("title", s)`,
		`const evaluate = 1; // an HTML page`,
		`class AsyncFunctionRunner {}`,
	}
	for _, l := range good {
		if h := scanSinks("x.js", []byte(l), htmlSinks); len(h) > 0 {
			t.Errorf("reported: %v", h)
		}
	}
	for _, l := range []string{`el.Set("innerHTML", s)`, `js.Global().Call("eval", code)`, `doc.Call("write", s)`} {
		if h := scanSinks("x.go", []byte(l), goSinks); len(h) == 0 {
			t.Errorf("not reported: %s", l)
		}
	}
	if h := scanSinks("x.go", []byte(`el.Set("textContent", s)`), goSinks); len(h) > 0 {
		t.Errorf("reported: %v", h)
	}
}
