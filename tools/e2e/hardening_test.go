package e2e

// TestHardening drives the page through the failures a public demo meets
// (issue 7): bad model files and manifests, a model too large for the GPU,
// interrupted downloads, a lost GPU device, browsers without WebGPU or
// storage, and hostile input (URL parameters, postMessage commands, uploaded
// files). Every case waits on what the page reports; none sleeps to
// synchronise. The page is served through a proxy in front of tools/serve
// that can cut a response short, drop a Range header and log requests.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"novae/model"
	"novae/model/weights"
)

// ---- the fault-injecting proxy ----

type fault struct {
	cut        int // bytes of the body to send before the connection is dropped
	times      int // requests to cut (-1: every one)
	stripRange int // requests after those whose Range header is dropped (the server then sends it all)
}

type logged struct {
	Path, Range string
	Status      int
	Cut         bool
}

type proxy struct {
	srv      *httptest.Server
	upstream string
	mu       sync.Mutex
	faults   map[string]*fault // by URL path
	log      []logged
}

func newProxy(t testing.TB, upstream string) *proxy {
	p := &proxy{upstream: strings.TrimSuffix(upstream, "/"), faults: map[string]*fault{}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) url() string { return p.srv.URL + "/" }

func (p *proxy) set(path string, f *fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f == nil {
		delete(p.faults, path)
	} else {
		p.faults[path] = f
	}
}

// requests returns the logged requests whose path has the prefix.
func (p *proxy) requests(prefix string) []logged {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []logged
	for _, l := range p.log {
		if strings.HasPrefix(l.Path, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	f := p.faults[r.URL.Path]
	cut, strip := false, false
	if f != nil {
		switch {
		case f.times != 0:
			cut = true
			if f.times > 0 {
				f.times--
			}
		case f.stripRange > 0:
			strip = true
			f.stripRange--
		}
	}
	p.mu.Unlock()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Header = r.Header.Clone()
	if strip {
		req.Header.Del("Range")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.mu.Lock()
	p.log = append(p.log, logged{Path: r.URL.Path, Range: r.Header.Get("Range"), Status: resp.StatusCode, Cut: cut})
	p.mu.Unlock()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if cut {
		io.CopyN(w, resp.Body, int64(f.cut))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	io.Copy(w, resp.Body)
}

// ---- test models beside the default one ----

type testModels struct {
	dir string // web/models
	def *weights.Manifest
}

var modelsOnce sync.Once

// hardeningModels writes the broken and special models the tests load (once).
func hardeningModels(t testing.TB, s *site) *testModels {
	t.Helper()
	m := &testModels{dir: filepath.Join(s.dir, "models")}
	js, err := os.ReadFile(s.manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m.def, err = weights.ParseManifest(js); err != nil {
		t.Fatal(err)
	}
	modelsOnce.Do(func() {
		copyModel := func(name string) string {
			dst := filepath.Join(m.dir, name)
			os.MkdirAll(dst, 0o755)
			src := filepath.Dir(s.manifest)
			ents, _ := os.ReadDir(src)
			for _, e := range ents {
				b, _ := os.ReadFile(filepath.Join(src, e.Name()))
				os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
			}
			return dst
		}
		editManifest := func(dir string, edit func(man *weights.Manifest, cfg *model.Config)) {
			p := filepath.Join(dir, "model.json")
			b, _ := os.ReadFile(p)
			man, err := weights.ParseManifest(b)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := model.ParseConfig(man.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			edit(man, &cfg)
			if man.Metadata["config"] != "" {
				c, _ := json.Marshal(cfg)
				man.Metadata["config"] = string(c)
			}
			out, _ := json.Marshal(man)
			os.WriteFile(p, out, 0o644)
		}
		editFile := func(p string, edit func([]byte) []byte) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, edit(b), 0o644)
		}
		shard := func(i int) string { return m.def.Shards[i].File }
		// Models of their own (other seeds: other digests, so that what the
		// cache holds of one model says nothing about another).
		randomModel := func(name, seed string) string {
			run(t, repoRoot, nil, s.novae, "random", "-config", filepath.Join(repoRoot, "tools", "e2e", "testdata", "tiny-random.json"),
				"-seed", seed, "-shard", "-shard-mb", "1", "-out", filepath.Join(m.dir, name, "model.json"), "-q")
			return filepath.Join(m.dir, name)
		}

		// A flipped byte in the second shard: its sha256 no longer matches.
		d := randomModel("corrupt", "4")
		editFile(filepath.Join(d, shard(1)), func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b })
		// The config says twice as wide as the tensors are.
		d = copyModel("mismatch")
		editManifest(d, func(_ *weights.Manifest, c *model.Config) { c.DiT.Hidden *= 2 })
		// The config has one block; the shards hold two.
		d = copyModel("extra")
		editManifest(d, func(_ *weights.Manifest, c *model.Config) { c.DiT.Depth = 1 })
		// A class table of 10⁷ × 64 f32 (2.4 GiB): over any binding limit.
		d = copyModel("huge")
		editManifest(d, func(_ *weights.Manifest, c *model.Config) { c.DiT.NumClasses, c.Classes = 10_000_000, nil })
		// Shards that claim 300 MiB: over the CPU fallback's limit.
		d = copyModel("hugecpu")
		editManifest(d, func(man *weights.Manifest, _ *model.Config) { man.Shards[0].Bytes = 300 << 20 })
		// Not a novae manifest; a manifest without a config.
		os.MkdirAll(filepath.Join(m.dir, "wrong"), 0o755)
		os.WriteFile(filepath.Join(m.dir, "wrong", "model.json"), []byte(`{"format": "gguf-index", "tensors": ["a"]}`), 0o644)
		d = copyModel("noconfig")
		editManifest(d, func(man *weights.Manifest, _ *model.Config) { delete(man.Metadata, "config") })
		// The server's copy of a shard is cut short.
		d = randomModel("cut", "5")
		editFile(filepath.Join(d, shard(0)), func(b []byte) []byte { return b[:len(b)/2] })
		// For the download tests.
		randomModel("flaky", "2")
		randomModel("broken", "3")
		// For the model picker: a second good model and the site's list,
		// with a name that must not become a choice (or markup).
		randomModel("other", "6")
		os.WriteFile(filepath.Join(m.dir, "index.json"), []byte(`{"default": "default", "models": ["default", "other", "<img src=x onerror=\"top.pwned=1\">"]}`), 0o644)
		// Markup in the text a model carries, which the page shows: its name
		// and a class name (when ready), a tensor name and the manifest's
		// format (in error messages).
		d = copyModel("markupname")
		editManifest(d, func(_ *weights.Manifest, c *model.Config) {
			c.Name = markup
			c.Classes[0] = markup
		})
		d = copyModel("markuptensor")
		editManifest(d, func(man *weights.Manifest, _ *model.Config) {
			man.Shards[0].Tensors = append(man.Shards[0].Tensors, "dit."+markup)
		})
		os.MkdirAll(filepath.Join(m.dir, "markupformat"), 0o755)
		os.WriteFile(filepath.Join(m.dir, "markupformat", "model.json"), []byte(`{"format": "`+markup+`", "version": 1}`), 0o644)
	})
	return m
}

func (m *testModels) manifest(t testing.TB, name string) *weights.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, name, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	man, err := weights.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return man
}

// ---- page helpers ----

// waitState waits until #status (of doc) is in one of states and, when
// textHas is set, its text holds it.
func waitState(t testing.TB, ctx context.Context, doc string, timeout time.Duration, textHas string, states ...string) status {
	t.Helper()
	st, _ := json.Marshal(states)
	expr := fmt.Sprintf(`(() => { const s = %s.querySelector("#status"); if (!s) return false;
		const st = {state: s.dataset.state, text: s.textContent, backend: s.dataset.backend || "", done: +s.dataset.done};
		return %s.includes(st.state) && st.text.includes(%q) ? st : false; })()`, doc, st, textHas)
	v, err := chromedp.Run(ctx, chromedp.Poll[status](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		cur := eval[string](t, ctx, doc+`.querySelector("#status")?.dataset.state + ": " + `+doc+`.querySelector("#status")?.textContent`)
		shot(t, ctx, "hardening-timeout")
		t.Fatalf("waiting for %v (text with %q): %v; the status is %s", states, textHas, err, cur)
	}
	return v
}

func navigate(t testing.TB, ctx context.Context, u string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
}

// onNewDocument runs js in every frame before the page's scripts, until the
// returned function removes it.
func onNewDocument(t testing.TB, ctx context.Context, js string) func() {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
			return cdp.Call(ctx, tg, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: res.Identifier})
		})
	}
}

// cachedAnywhere reports for each sha256 whether any weights store holds it.
func cachedAnywhere(t testing.TB, ctx context.Context, shas []string) []bool {
	t.Helper()
	js, _ := json.Marshal(shas)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`(async () => {
		const w = document.querySelector("#viewbox iframe").contentWindow.novaeWeights;
		return Promise.all(`+string(js)+`.map(async (sha) => {
			for (const s of w.stores) { try { if (s.ok() && await s.get(sha)) return true; } catch {} }
			return false; })); })()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func shas(m *weights.Manifest) []string {
	var out []string
	for _, s := range m.Shards {
		out = append(out, s.SHA256)
	}
	return out
}

// injection is put into every URL parameter and message field: if any of it
// became markup, an element would appear and top.pwned would be set.
const injection = `<img src=x onerror="top.pwned=1"><svg onload="top.pwned=1"><script>top.pwned=1</script><b id=pwn>`

// markup is text that does reach the page (a file or model name, a tensor
// name in an error): it must be shown as it is, as text. It has no quote,
// backslash or slash, so that it stays itself in a file name and in Go's %q.
const markup = `<img src=x onerror=top.pwned=1><svg onload=top.pwned=1><b id=pwn>`

// noMarkup checks the page and the view iframe for anything the payload
// could have made.
func noMarkup(t testing.TB, ctx context.Context, doc string) {
	t.Helper()
	n := eval[int](t, ctx, `(() => { const docs = [`+doc+`]; const f = `+doc+`.querySelector("#viewbox iframe"); if (f) docs.push(f.contentDocument);
		let n = 0; for (const d of docs) n += d.querySelectorAll("img, #pwn, [onerror], [onload], svg svg, svg script").length; return n; })()`)
	if n != 0 {
		t.Errorf("the payload made %d elements", n)
	}
	if eval[bool](t, ctx, `!!window.top.pwned`) {
		t.Error("the payload ran script")
	}
}

func TestHardening(t *testing.T) {
	requireBrowser(t)
	s := build(t)
	m := hardeningModels(t, s)
	px := newProxy(t, s.url)
	base := px.url()
	const long = 4 * time.Minute

	// Broken files and manifests: each visit ends in the error state with a
	// message naming the file or tensor and the problem; what can be refused
	// from the manifest is refused before any shard is fetched.
	t.Run("bad-models", func(t *testing.T) {
		ctx := browser(t, true)
		for _, c := range []struct {
			model    string
			want     []string
			noShards bool // refused before downloading anything
		}{
			{"corrupt", []string{"corrupt/" + m.def.Shards[1].File, "sha256 mismatch", "not the one the manifest describes"}, false},
			{"mismatch", []string{"dit.", "the model wants F32 ["}, false},
			{"extra", []string{"dit.blocks.1.", "not a parameter of this config"}, true},
			{"huge", []string{"cannot run on this GPU (nothing was downloaded)", "dit.y_embedder.embedding_table.weight: 2560000256 bytes", "binds at most"}, true},
			{"wrong", []string{"not a novae-weights v1 manifest", `format "gguf-index"`}, true},
			{"noconfig", []string{`no "config" metadata`}, true},
			{"cut", []string{"cut/" + m.def.Shards[0].File, "manifest lists", "truncated"}, false},
		} {
			t.Run(c.model, func(t *testing.T) {
				navigate(t, ctx, base+"?webgpu=1&model="+c.model) // the WebGPU path's checks (SwiftShader alone picks the CPU path)
				st := waitState(t, ctx, "document", long, "", "error")
				for _, w := range c.want {
					if !strings.Contains(st.Text, w) {
						t.Errorf("the error %q does not say %q", st.Text, w)
					}
				}
				if got := px.requests("/models/" + c.model + "/model-"); c.noShards && len(got) > 0 {
					t.Errorf("%d shard requests for a model refused from its manifest: %v", len(got), got)
				}
				t.Logf("%s: %s", c.model, st.Text)
			})
		}
		// Nothing of the corrupt or the cut model was kept as trusted.
		navigate(t, ctx, base+"?model=nosuchmodel")
		waitState(t, ctx, "document", long, "No model at", "error")
		corrupt, cut := m.manifest(t, "corrupt"), m.manifest(t, "cut")
		if c := cachedAnywhere(t, ctx, []string{corrupt.Shards[1].SHA256, cut.Shards[0].SHA256}); c[0] || c[1] {
			t.Errorf("a shard that failed its check is in the cache: %v", c)
		}
	})

	// The model picker lists the site's models (models/index.json, without
	// the invalid name) and switching reloads the page with ?model=, keeping
	// the other settings but not the class.
	t.Run("model-picker", func(t *testing.T) {
		ctx := browser(t, true)
		navigate(t, ctx, base+"?seed=3&class=2&steps=2")
		waitState(t, ctx, "document", long, "", "ready")
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.getElementById("model-row").hidden`, chromedp.WithPollingTimeout(time.Minute))); err != nil {
			t.Fatalf("no model picker: %v", err)
		}
		opts := eval[[]string](t, ctx, `[...document.getElementById("model").options].map((o) => o.value)`)
		if strings.Join(opts, ",") != "default,other" || eval[string](t, ctx, `document.getElementById("model").value`) != "default" {
			t.Fatalf("picker options %q (selected %q), want default,other", opts, eval[string](t, ctx, `document.getElementById("model").value`))
		}
		noMarkup(t, ctx, "document")
		before := len(px.requests("/models/other/model-"))
		eval[bool](t, ctx, `(() => { const s = document.getElementById("model"); s.value = "other"; s.dispatchEvent(new Event("change")); return true; })()`)
		// The document goes away under a poll: ask again until the new one answers.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			q, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status") ? location.search : ""`))
			if err == nil && strings.Contains(q, "model=other") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("switching did not navigate: %q, %v", q, err)
			}
		}
		waitState(t, ctx, "document", long, "", "ready")
		q := eval[string](t, ctx, `location.search`)
		if !strings.Contains(q, "seed=3") || !strings.Contains(q, "steps=2") || strings.Contains(q, "class=") {
			t.Errorf("after switching: %q, want the seed and steps kept and the class dropped", q)
		}
		if got := eval[string](t, ctx, `document.getElementById("model").value`); got != "other" {
			t.Errorf("picker shows %q after switching to other", got)
		}
		if n := len(px.requests("/models/other/model-")) - before; n != len(m.manifest(t, "other").Shards) {
			t.Errorf("%d shard requests for the other model, want %d", n, len(m.manifest(t, "other").Shards))
		}
	})

	// An interrupted download resumes (Range) or restarts (when the server
	// ignores the range) and the model loads; one that keeps failing ends in
	// an error naming the shard, leaves nothing in any cache, and a later
	// visit loads the model cleanly.
	t.Run("interrupted-download", func(t *testing.T) {
		ctx := browser(t, true)
		flaky := m.manifest(t, "flaky")
		p0, p1 := "/models/flaky/"+flaky.Shards[0].File, "/models/flaky/"+flaky.Shards[1].File
		px.set(p0, &fault{cut: 300 << 10, times: 1})
		px.set(p1, &fault{cut: 200 << 10, times: 1, stripRange: 1})
		navigate(t, ctx, base+"?webgpu=1&model=flaky")
		waitState(t, ctx, "document", long, "", "ready")
		// After the cut, shard 0 is only ever asked for by range (Chromium's
		// HTTP cache may first check its partial copy with a one-byte range)
		// and answered 206: resumed. Shard 1's range was dropped, so the
		// server sent it all (200): restarted.
		for _, c := range []struct {
			path, how string
			status    int
		}{{p0, "resumed", 206}, {p1, "restarted", 200}} {
			reqs := px.requests(c.path)
			ok := len(reqs) >= 2 && reqs[0].Cut && reqs[0].Range == ""
			for _, r := range reqs[1:] {
				ok = ok && !r.Cut && strings.HasPrefix(r.Range, "bytes=") && !strings.HasPrefix(r.Range, "bytes=0-")
			}
			if !ok || reqs[len(reqs)-1].Status != c.status {
				t.Errorf("%s: want a cut request, then requests by range, the last answered %d; got %+v", c.path, c.status, reqs)
			} else {
				t.Logf("%s %s: %+v", c.path, c.how, reqs)
			}
		}
		if c := cachedAnywhere(t, ctx, shas(flaky)); !c[0] || !c[1] {
			t.Errorf("the repaired downloads were not cached: %v", c)
		}

		broken := m.manifest(t, "broken")
		b0 := "/models/broken/" + broken.Shards[0].File
		px.set(b0, &fault{cut: 0, times: -1}) // headers, then the connection drops: no progress at all
		defer px.set(b0, nil)
		navigate(t, ctx, base+"?webgpu=1&model=broken")
		st := waitState(t, ctx, "document", long, "", "error")
		if !strings.Contains(st.Text, broken.Shards[0].File) || !strings.Contains(st.Text, "download failed") {
			t.Errorf("error %q does not name the shard and the failure", st.Text)
		}
		if n := len(px.requests(b0)); n != 4 {
			t.Errorf("%d attempts at the broken shard, want 4", n)
		}
		if c := cachedAnywhere(t, ctx, shas(broken)); c[0] {
			t.Error("a shard whose download never completed is in the cache")
		}
		px.set(b0, nil)
		navigate(t, ctx, base+"?webgpu=1&model=broken")
		waitState(t, ctx, "document", long, "", "ready")
	})

	// device.destroy() in the middle of a run: the loss is reported, a new
	// device is made, the model reloaded from the cache, and the run resumes
	// at the step after the last completed one; its image is the CLI's for
	// the same settings, bit for bit within the usual tolerance. Then a loss
	// while idle: recovered without a run, and the next run is right too.
	// The adapter's shader-f16 is hidden (SwiftShader has none anyway), so
	// this is also the test that WebGPU without shader-f16 works.
	t.Run("device-loss", func(t *testing.T) {
		ctx := browser(t, true)
		onNewDocument(t, ctx, `if (globalThis.GPUAdapter) { const d = Object.getOwnPropertyDescriptor(GPUAdapter.prototype, "features");
			Object.defineProperty(GPUAdapter.prototype, "features", {get() { return new Set([...d.get.call(this)].filter((f) => f !== "shader-f16")); }, configurable: true}); }`)
		navigate(t, ctx, base+"?webgpu=1&seed=7&class=3&steps=3&cfg=3&shift=0.3&sampler=euler&schedule=constant&view=final")
		st := waitState(t, ctx, "document", long, "", "ready")
		if st.Backend != "webgpu" {
			t.Fatalf("backend %q", st.Backend)
		}
		if f16 := eval[bool](t, ctx, `window.novaeStats.boot.f16`); f16 {
			t.Fatal("shader-f16 was hidden, yet the engine reports it")
		}
		eval[bool](t, ctx, `(() => { const api = `+viewJS+`; window.firstDevice = api.device();
			api.on((type, d) => { if (type === "step" && d.i === 0 && !window.killed) { window.killed = true; api.device().destroy(); } });
			document.getElementById("generate").click(); return true; })()`)
		waitDone(t, ctx, "document", 1, 2*long)
		ps := eval[struct {
			DeviceLost []struct{ Reason, Message string }
			Recovered  []struct{ MS float64 }
			Resumed    []struct{ From, Steps int }
		}](t, ctx, `window.novaeStats`)
		if len(ps.DeviceLost) != 1 || ps.DeviceLost[0].Reason != "destroyed" || len(ps.Recovered) != 1 ||
			len(ps.Resumed) != 1 || ps.Resumed[0].From != 1 {
			t.Fatalf("device loss mid-run: lost %+v, recovered %+v, resumed %+v", ps.DeviceLost, ps.Recovered, ps.Resumed)
		}
		t.Logf("lost (%s: %s), device re-created and model reloaded in %.0f ms, resumed at step %d of %d",
			ps.DeviceLost[0].Reason, ps.DeviceLost[0].Message, ps.Recovered[0].MS, ps.Resumed[0].From+1, ps.Resumed[0].Steps)
		if same := eval[bool](t, ctx, viewJS+`.device() === window.firstDevice`); same {
			t.Error("still the destroyed device")
		}
		p := getPixels(t, ctx, viewJS)
		compare(t, "run resumed after device loss vs the CLI", p.tile(0, "x0"), s.sampleCLI(t, false, 3, 7, 3, "euler", 3, 0.3), maxLevels, meanLevels)

		// Lost while idle.
		eval[bool](t, ctx, `(`+viewJS+`.device().destroy(), true)`)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.novaeStats.recovered.length === 2 && document.getElementById("status").dataset.state === "done"`,
			chromedp.WithPollingTimeout(long))); err != nil {
			t.Fatalf("no recovery from a loss while idle: %v (status %q)", err, eval[string](t, ctx, `document.getElementById("status").textContent`))
		}
		eval[string](t, ctx, setInput("steps", "1"))
		eval[bool](t, ctx, `(document.getElementById("generate").click(), true)`)
		waitDone(t, ctx, "document", 2, 2*long)
		p = getPixels(t, ctx, viewJS)
		compare(t, "first run on the device re-created while idle vs the CLI", p.tile(0, "x0"), s.sampleCLI(t, false, 3, 7, 1, "euler", 3, 0.3), maxLevels, meanLevels)
	})

	// No navigator.gpu at all; a GPU below the limits novae needs; a model
	// over the CPU fallback's size. The first two fall back to the CPU and
	// say why; the last is refused before anything is downloaded.
	t.Run("no-webgpu-paths", func(t *testing.T) {
		ctx := browser(t, true)
		remove := onNewDocument(t, ctx, `Object.defineProperty(Navigator.prototype, "gpu", {get() { return undefined; }, configurable: true});`)
		navigate(t, ctx, base+"?autoplay=0")
		st := waitState(t, ctx, "document", long, "", "ready")
		reason := eval[string](t, ctx, `document.getElementById("nowebgpu-reason").textContent`)
		if st.Backend != "cpu" || eval[bool](t, ctx, `document.getElementById("nowebgpu").hidden`) || !strings.Contains(reason, "navigator.gpu is missing") ||
			!eval[bool](t, ctx, `window.novaeStats.boot.noWebGPU`) {
			t.Errorf("without navigator.gpu: backend %q, reason %q", st.Backend, reason)
		}
		navigate(t, ctx, base+"?model=hugecpu")
		st = waitState(t, ctx, "document", long, "", "error")
		if !strings.Contains(st.Text, "without WebGPU the CPU fallback runs models up to 256.0 MiB only") || len(px.requests("/models/hugecpu/model-")) > 0 {
			t.Errorf("a 300 MiB model on the CPU fallback: %q, %d shard requests", st.Text, len(px.requests("/models/hugecpu/model-")))
		}
		remove()

		remove = onNewDocument(t, ctx, `if (globalThis.GPUSupportedLimits) { const d = Object.getOwnPropertyDescriptor(GPUSupportedLimits.prototype, "maxStorageBufferBindingSize");
			Object.defineProperty(GPUSupportedLimits.prototype, "maxStorageBufferBindingSize", {get() { return Math.min(d.get.call(this), 64 << 20); }, configurable: true}); }`)
		defer remove()
		navigate(t, ctx, base+"?webgpu=1&autoplay=0") // asked for WebGPU, so the limits are checked
		st = waitState(t, ctx, "document", long, "", "ready")
		reason = eval[string](t, ctx, `document.getElementById("nowebgpu-reason").textContent`)
		if st.Backend != "cpu" || !strings.Contains(reason, "GPU too small") || !strings.Contains(reason, "maxStorageBufferBindingSize is 67108864") {
			t.Errorf("a GPU with a 64 MiB binding limit: backend %q, reason %q", st.Backend, reason)
		}
	})

	// Storage refused: every put over quota; private mode: the Cache API,
	// IndexedDB and the service worker all refused. The model loads from
	// the network and is kept in memory; the page works.
	t.Run("storage-refused", func(t *testing.T) {
		for _, c := range []struct{ name, js, sw string }{
			{"quota", `Cache.prototype.put = function () { return Promise.reject(new DOMException("Quota exceeded.", "QuotaExceededError")); };
				IDBObjectStore.prototype.put = function () { throw new DOMException("Quota exceeded.", "QuotaExceededError"); };`, "ready"},
			{"private", `CacheStorage.prototype.open = CacheStorage.prototype.match = CacheStorage.prototype.delete = function () { return Promise.reject(new DOMException("The operation is insecure.", "SecurityError")); };
				IDBFactory.prototype.open = function () { throw new DOMException("A mutation operation was attempted on a database that did not allow mutations.", "InvalidStateError"); };
				if (navigator.serviceWorker) ServiceWorkerContainer.prototype.register = function () { return Promise.reject(new DOMException("The operation is insecure.", "SecurityError")); };`, "failed"},
		} {
			t.Run(c.name, func(t *testing.T) {
				ctx := browser(t, false) // the CPU fallback: storage is the same, runs are faster
				onNewDocument(t, ctx, c.js)
				navigate(t, ctx, base+"?seed=3&steps=1&class=2&cfg=2&autoplay=1&view=final")
				waitDone(t, ctx, "document", 1, long)
				ps := stats(t, ctx)
				for _, src := range ps.Model.Sources {
					if src != "network" {
						t.Errorf("shard source %q, want network", src)
					}
				}
				mem, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`(async () => { const w = document.querySelector("#viewbox iframe").contentWindow.novaeWeights;
					return Promise.all(`+mustJSON(shas(m.def))+`.map(async (sha) => !!(await w.stores[2].get(sha)))); })()`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatal(err)
				}
				for i, ok := range mem {
					if !ok {
						t.Errorf("shard %d is not in the memory store", i)
					}
				}
				if !strings.HasPrefix(ps.SW, c.sw) {
					t.Errorf("service worker %q, want %s…", ps.SW, c.sw)
				}
				p := getPixels(t, ctx, viewJS)
				compare(t, c.name+": a run with no storage vs the CLI", p.tile(0, "x0"), s.sampleCLI(t, true, 2, 3, 1, "euler", 2, 0.3), 1, 0.05)
			})
		}
	})

	// Script injection in every URL parameter and in every field of a
	// postMessage command; commands from elsewhere than the parent, and from
	// a parent whose origin the frame was not pinned to, are ignored.
	t.Run("hostile-input", func(t *testing.T) {
		ctx := browser(t, false)
		q := url.QueryEscape(injection)
		// weights= is the only parameter that reaches a fetch: the payload is a
		// (relative) URL that does not exist, shown as text.
		navigate(t, ctx, base+"?weights="+q)
		st := waitState(t, ctx, "document", long, "", "error")
		if !strings.Contains(st.Text, "Could not read") {
			t.Errorf("weights=<payload>: %q", st.Text)
		}
		noMarkup(t, ctx, "document")
		for _, bad := range []string{"javascript:top.pwned=1", "data:text/html,<script>top.pwned=1</script>"} {
			navigate(t, ctx, base+"?weights="+url.QueryEscape(bad))
			waitState(t, ctx, "document", long, "", "ready") // ignored: the default model
			noMarkup(t, ctx, "document")
		}
		var params []string
		for _, k := range []string{"model", "class", "seed", "steps", "cfg", "shift", "sampler", "schedule", "view", "grid", "autoplay", "controls", "origin", "frames", "seedB"} {
			params = append(params, k+"="+q)
		}
		navigate(t, ctx, base+"?"+strings.Join(params, "&"))
		waitState(t, ctx, "document", long, "", "ready")
		vals := eval[map[string]string](t, ctx, `Object.fromEntries(["class", "seed", "steps", "cfg", "shift", "schedule", "view", "grid"].map((id) => [id, document.getElementById(id).value]))`)
		for id, v := range vals {
			if strings.ContainsAny(v, "<>\"") {
				t.Errorf("#%s = %q", id, v)
			}
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#schedule option").length`); n != 6 {
			t.Errorf("the schedule list has %d options, want the 6 built in", n)
		}
		eval[bool](t, ctx, `(document.getElementById("generate").click(), true)`)
		waitDone(t, ctx, "document", 1, long)
		noMarkup(t, ctx, "document")
		if sn := eval[string](t, ctx, `document.getElementById("snippet").textContent`); strings.Contains(sn, "<img") || strings.Contains(sn, "onerror") {
			t.Errorf("the payload reached the embed snippet: %s", sn)
		}

		// postMessage: an embedder sends the payload in every field, plus
		// out-of-range numbers, then stops the run; messages from the frame
		// itself and malformed ones are ignored; then a sane command runs.
		writePage(t, s, "hostile-embedder.html", `<!doctype html><meta charset="utf-8"><title>hostile embedder</title>
<iframe id="f" src="index.html?controls=minimal&steps=2&class=1" width="480" height="320"></iframe>
<script>
window.events = [];
addEventListener("message", (e) => { if (e.source === document.getElementById("f").contentWindow) window.events.push(e.data); });
</script>`)
		navigate(t, ctx, base+"hostile-embedder.html")
		const frame = `document.getElementById("f").contentDocument`
		waitState(t, ctx, frame, long, "", "ready")
		payload, _ := json.Marshal(injection)
		// A listener of ours in the frame, added after the page's own: it
		// records the settings each message left behind.
		eval[bool](t, ctx, `(() => { const w = document.getElementById("f").contentWindow, P = `+string(payload)+`; window.seen = [];
			w.addEventListener("message", () => window.seen.push(Object.fromEntries(["class", "seed", "steps", "cfg", "shift", "schedule", "view", "grid"].map((id) => [id, w.document.getElementById(id).value]))));
			w.postMessage({type: "novae:generate", options: {seed: P, class: P, steps: 1e9, cfg: 1e9, shift: "NaN", sampler: P, schedule: P, view: P, grid: 1e6, weights: "javascript:top.pwned=1", junk: P}}, "*");
			w.postMessage({type: "novae:stop"}, "*");
			for (const m of [null, P, 42, {type: 5}, {type: P}, {type: "novae:" + P}]) w.postMessage(m, "*");
			new w.Function("postMessage({type: 'novae:generate', options: {steps: 9, class: 0}}, '*')")(); // from the frame itself, not its parent
			return true; })()`)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.seen.length === 9`, chromedp.WithPollingTimeout(long))); err != nil {
			t.Fatalf("the frame did not see the messages: %v", err)
		}
		seen := eval[[]map[string]string](t, ctx, `window.seen`)
		// The hostile command is refused whole (an error event names the
		// first bad option) and changes nothing.
		if v := seen[0]; v["steps"] != "2" || v["class"] != "1" || v["view"] != "both" || mustJSON(v) != mustJSON(seen[8]) {
			t.Errorf("after the hostile command the settings are %v, at the end %v (want both untouched: steps 2, class 1)", v, seen[8])
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.events.some((e) => e.type === "novae:error" && e.option === "class")`, chromedp.WithPollingTimeout(long))); err != nil {
			t.Errorf("no error event naming the hostile command's first bad option: %v", eval[any](t, ctx, `window.events`))
		}
		if v := seen[8]; v["steps"] == "9" || v["class"] == "0" {
			t.Errorf("a command the frame posted to itself was obeyed: %v", v)
		}
		for _, v := range seen {
			for id, x := range v {
				if strings.ContainsAny(x, "<>\"") {
					t.Errorf("frame #%s = %q", id, x)
				}
			}
		}
		noMarkup(t, ctx, frame)
		eval[bool](t, ctx, `(document.getElementById("f").contentWindow.postMessage({type: "novae:generate", options: {seed: 5, steps: 1, class: 1, cfg: 2.5, grid: 1, view: "final"}}, "*"), true)`)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.events.some((e) => e.type === "novae:done" && e.steps === 1)`, chromedp.WithPollingTimeout(long))); err != nil {
			t.Fatalf("the sane command after the hostile ones never finished: %v", err)
		}
		if n := eval[int](t, ctx, `window.events.filter((e) => e.type === "novae:done").length`); n != 1 {
			t.Errorf("%d runs finished, want only the sane one", n)
		}
		noMarkup(t, ctx, frame)

		// Origin pinning: frame "wrong" talks only to http://localhost (not
		// this parent), frame "right" to this parent's origin.
		host := strings.TrimSuffix(strings.TrimPrefix(base, "http://127.0.0.1"), "/")
		writePage(t, s, "origin-embedder.html", `<!doctype html><meta charset="utf-8"><title>origin embedder</title>
<iframe id="wrong" src="index.html?controls=minimal&steps=2&origin=http://localhost`+host+`" width="320" height="240"></iframe>
<iframe id="right" src="index.html?controls=minimal&steps=2&origin=http://127.0.0.1`+host+`" width="320" height="240"></iframe>
<script>
window.events = [];
addEventListener("message", (e) => window.events.push({from: e.source === document.getElementById("wrong").contentWindow ? "wrong" : "right", type: e.data.type}));
</script>`)
		navigate(t, ctx, base+"origin-embedder.html")
		for _, id := range []string{"wrong", "right"} {
			waitState(t, ctx, `document.getElementById("`+id+`").contentDocument`, long, "", "ready")
		}
		eval[bool](t, ctx, `(() => { for (const id of ["wrong", "right"]) { const w = document.getElementById(id).contentWindow;
			w.addEventListener("message", () => { window["got_" + id] = true; }); // runs after the page's own listener
			w.postMessage({type: "novae:generate", options: {steps: 1, seed: 4, view: "final"}}, "*"); } return true; })()`)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.got_wrong && window.got_right && window.events.some((e) => e.type === "novae:done")`, chromedp.WithPollingTimeout(long))); err != nil {
			t.Fatalf("the pinned frames: %v (events %v)", err, eval[any](t, ctx, `window.events`))
		}
		wrong := eval[map[string]string](t, ctx, `(() => { const d = document.getElementById("wrong").contentDocument; return {steps: d.getElementById("steps").value, state: d.getElementById("status").dataset.state}; })()`)
		if wrong["steps"] != "2" || wrong["state"] != "ready" {
			t.Errorf("the frame pinned to another origin obeyed this parent: %v", wrong)
		}
		if bad := eval[int](t, ctx, `window.events.filter((e) => e.from === "wrong").length`); bad != 0 {
			t.Errorf("the frame pinned to another origin posted %d events to this parent", bad)
		}
	})

	// Markup in text that reaches the page as it is, unlike the URL
	// parameters and messages above (refused or escaped first): a model's
	// name and class names, a tensor name and a manifest's format in error
	// messages, an uploaded file's name. Each shows literally, as text, and
	// nothing of it becomes an element or runs.
	t.Run("markup-as-text", func(t *testing.T) {
		ctx := browser(t, true)
		navigate(t, ctx, base+"?webgpu=1&model=markupname")
		st := waitState(t, ctx, "document", long, "", "ready")
		if want := "Ready: “" + markup + "”"; !strings.Contains(st.Text, want) {
			t.Errorf("the model's name: %q does not say %q", st.Text, want)
		}
		if got, want := eval[string](t, ctx, `document.querySelector("#class option").text`), "0: "+markup; got != want {
			t.Errorf("the first class is listed as %q, want %q", got, want)
		}
		noMarkup(t, ctx, "document")

		// The name of a file that is not an image, then of one too large.
		dir := t.TempDir()
		for _, c := range []struct {
			data []byte
			want string
		}{
			{[]byte("not a picture"), "is not a PNG, JPEG, GIF, WebP or BMP image"},
			{fakeGIF(10000, 10000, 1, 1), "is 10000×10000 pixels"},
		} {
			p := filepath.Join(dir, markup+".gif")
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			st = uploadFile(t, ctx, p)
			if want := "“" + markup + ".gif” " + c.want; st.State != "error" || !strings.Contains(st.Text, want) {
				t.Errorf("an upload named %q: %s %q, want the error %q", markup+".gif", st.State, st.Text, want)
			}
			noMarkup(t, ctx, "document")
		}

		for _, c := range []struct{ model, want string }{
			{"markuptensor", "dit." + markup + ": not a parameter of this config"},
			{"markupformat", `format "` + markup + `"`},
		} {
			navigate(t, ctx, base+"?webgpu=1&model="+c.model)
			st := waitState(t, ctx, "document", long, "", "error")
			if !strings.Contains(st.Text, c.want) {
				t.Errorf("%s: %q does not say %q", c.model, st.Text, c.want)
			}
			noMarkup(t, ctx, "document")
			t.Logf("%s: %s", c.model, st.Text)
		}
	})

	// Uploaded images: not an image, formats whose size cannot be checked
	// before decoding, a corrupt PNG, a JPEG without a frame header, huge
	// images in every format taken (10,000×10,000 by their headers; a GIF
	// whose first frame outgrows its screen; a JPEG whose frame header comes
	// after 300 KiB of APPn data), each refused from its header with the
	// reason and the page responsive; a 6-megapixel JPEG, also behind 300
	// KiB of APPn data (decoded scaled down, off the main thread),
	// transparency (on white) and EXIF orientation.
	t.Run("uploads", func(t *testing.T) {
		ctx := browser(t, false)
		navigate(t, ctx, base+"?autoplay=0")
		waitState(t, ctx, "document", long, "", "ready")
		dir := t.TempDir()
		write := func(name string, b []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		upload := func(path string) status { t.Helper(); return uploadFile(t, ctx, path) }
		const pad = 300 << 10 // APPn data before the frame header: more than the 256 KiB first read
		for _, c := range []struct {
			name string
			data []byte
			want []string
		}{
			{"notes.txt", []byte("hello, this is not a picture\n"), []string{"notes.txt", "is not a PNG, JPEG, GIF, WebP or BMP image"}},
			{"photo.avif", fakeISOBMFF("avif"), []string{"photo.avif", "is not a PNG, JPEG, GIF, WebP or BMP image", "size can be checked before decoding"}},
			{"corrupt.png", corruptPNG(t), []string{"corrupt.png", "could not be decoded", "PNG file is corrupt"}},
			{"nosof.jpg", []byte{0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9}, []string{"nosof.jpg", "size of this JPEG image cannot be read (no frame header before the image data)", "not decoded"}},
			{"huge.png", hugePNG(t, 10000, 10000), []string{"huge.png", "10000×10000 pixels (100 megapixels)", "up to 40 megapixels"}},
			{"huge.gif", fakeGIF(10000, 10000, 10000, 10000), []string{"huge.gif", "10000×10000 pixels (100 megapixels)", "up to 40 megapixels"}},
			{"huge-frame.gif", fakeGIF(64, 64, 10000, 10000), []string{"huge-frame.gif", "10000×10000 pixels (100 megapixels)"}},
			{"huge.webp", fakeWebP("VP8X", 10000, 10000), []string{"huge.webp", "10000×10000 pixels (100 megapixels)"}},
			{"huge-lossless.webp", fakeWebP("VP8L", 10000, 10000), []string{"huge-lossless.webp", "10000×10000 pixels (100 megapixels)"}},
			{"huge.bmp", fakeBMP(10000, 10000), []string{"huge.bmp", "10000×10000 pixels (100 megapixels)"}},
			{"wide.bmp", fakeBMP(20000, 100), []string{"wide.bmp", "20000×100 pixels", "16384 pixels a side"}},
			{"late-sof.jpg", jpegSize(t, padJPEG(t, bigJPEG(t, 16, 16), pad), 10000, 10000), []string{"late-sof.jpg", "10000×10000 pixels (100 megapixels)"}},
			// Countless empty segments or extensions: refused, not walked on the main thread.
			{"many-segments.jpg", append(append([]byte{0xff, 0xd8}, bytes.Repeat([]byte{0xff, 0xfe, 0, 2}, 150000)...), bigJPEG(t, 16, 16)[2:]...),
				[]string{"many-segments.jpg", "cannot be read (more than 100000 segments before the frame header)"}},
			{"many-blocks.gif", append(fakeGIF(64, 64, 0, 0)[:19], append(bytes.Repeat([]byte{0x21, 0xfe, 0}, 150000), fakeGIF(64, 64, 64, 64)[19:]...)...),
				[]string{"many-blocks.gif", "cannot be read (more than 100000 blocks before the first frame)"}},
		} {
			st := upload(write(c.name, c.data))
			if st.State != "error" {
				t.Errorf("%s: state %s (%s)", c.name, st.State, st.Text)
			}
			for _, w := range c.want {
				if !strings.Contains(st.Text, w) {
					t.Errorf("%s: %q does not say %q", c.name, st.Text, w)
				}
			}
			if gap := eval[float64](t, ctx, `window.maxGap`); gap > 1000 {
				t.Errorf("%s: the main thread stalled for %.0f ms", c.name, gap)
			}
			t.Logf("%s: %s", c.name, st.Text)
		}

		big := write("big.jpg", padJPEG(t, bigJPEG(t, 3000, 2000), pad))
		if st := upload(big); st.State != "done" {
			t.Errorf("a 6-megapixel JPEG: %s", st.Text)
		}
		gap := eval[float64](t, ctx, `window.maxGap`)
		t.Logf("6-megapixel JPEG (frame header after %d KiB) encoded; longest main-thread gap %.0f ms", pad>>10, gap)
		if gap > 1000 {
			t.Errorf("the 6-megapixel JPEG stalled the main thread for %.0f ms", gap)
		}
		// Its size was read from the header (so it was decoded scaled down).
		if info, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`(async () => { const { imageInfo } = await import("./app.js");
			const i = await imageInfo(document.getElementById("file").files[0]); return [i.type, i.w, i.h]; })()`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		} else if got := fmt.Sprint(info); got != "[jpeg 3000 2000]" {
			t.Errorf("imageInfo of the JPEG with its frame header after %d KiB: %s", pad>>10, got)
		}

		// Transparency: the left half is transparent red, the right opaque
		// blue: the encoder sees white on the left.
		if st := upload(write("alpha.png", alphaPNG(t, 32))); st.State != "done" {
			t.Fatalf("alpha.png: %s", st.Text)
		}
		p := getPixels(t, ctx, viewJS)
		in, S := p.tile(0, "input"), p.Layout.S
		at := func(x, y int) [3]int { o := (y*S + x) * 4; return [3]int{int(in[o]), int(in[o+1]), int(in[o+2])} }
		if c := at(0, S/2); c[0] < 240 || c[1] < 240 || c[2] < 240 {
			t.Errorf("a transparent pixel came out %v, want white", c)
		}
		if c := at(S-1, S/2); c[2] < 200 || c[0] > 60 {
			t.Errorf("an opaque blue pixel came out %v", c)
		}

		// EXIF orientation 6 (rotate 90° clockwise): stored left red, right
		// blue; shown top red, bottom blue.
		if st := upload(write("rotated.jpg", exifJPEG(t, 64, 32, 6))); st.State != "done" {
			t.Fatalf("rotated.jpg: %s", st.Text)
		}
		p = getPixels(t, ctx, viewJS)
		in = p.tile(0, "input")
		top, bottom := at(S/2, 0), at(S/2, S-1)
		if !(top[0] > 150 && top[2] < 100 && bottom[2] > 150 && bottom[0] < 100) {
			t.Errorf("EXIF orientation not applied: top %v, bottom %v (want red above blue)", top, bottom)
		}

		// The header reader on a few more headers.
		info, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`(async () => { const { imageInfo } = await import("./app.js"); const B = (a) => new Uint8Array(a);
			const le16 = (v) => [v & 255, v >> 8], le32 = (v) => [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24];
			return (await Promise.all([
			  imageInfo(B([..."GIF89a"].map((c) => c.charCodeAt(0)).concat(le16(300), le16(200), 0, 0, 0))),
			  imageInfo(B([66, 77, ...new Array(16).fill(0), ...le32(640), ...le32(-480 >>> 0), 0, 0])),
			  imageInfo(B([66, 77, ...new Array(12).fill(0), ...le32(12), ...le16(320), ...le16(240), 1, 0, 24, 0])),
			  imageInfo(B([..."RIFF\0\0\0\0WEBPVP8X"].map((c) => c.charCodeAt(0)).concat(0, 0, 0, 0, 0, 0, 0, 0, ...le32(9999).slice(0, 3), ...le32(4999).slice(0, 3)))),
			  imageInfo(B([255, 216, 0, 0, 255, 255, 255, 192, 0, 17, 8, 1, 44, 2, 88, 3])), // junk and fill bytes before SOF0: 600×300
			  imageInfo(B([1, 2, 3, 4, 5, 6, 7, 8])),
			])).map((i) => [i.type, i.w ?? 0, i.h ?? 0]); })()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(info); got != "[[gif 300 200] [bmp 640 480] [bmp 320 240] [webp 10000 5000] [jpeg 600 300] [ 0 0]]" {
			t.Errorf("imageInfo: %s", got)
		}
	})
}

// uploadFile opens the page's encode panel, gives it the file and presses
// Encode; it returns the status once the page has refused the file or
// encoded it. window.maxGap then holds the longest the main thread went
// without running a 20 ms timer meanwhile.
func uploadFile(t testing.TB, ctx context.Context, path string) status {
	t.Helper()
	eval[bool](t, ctx, `(() => { document.getElementById("encode").open = true;
		if (!window.heartbeat) { let last = performance.now(); window.heartbeat = setInterval(() => { const n = performance.now(); window.maxGap = Math.max(window.maxGap, n - last); last = n; }, 20); }
		window.maxGap = 0; return true; })()`)
	done := eval[int](t, ctx, `+document.getElementById("status").dataset.done`)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.Click(chromedp.ID("encode-go"))); err != nil {
		t.Fatal(err)
	}
	st, err := chromedp.Run(ctx, chromedp.Poll[status](fmt.Sprintf(`(() => { const s = document.getElementById("status");
		const st = {state: s.dataset.state, text: s.textContent, done: +s.dataset.done};
		return st.state === "error" || (st.state === "done" && st.done > %d) ? st : false; })()`, done),
		chromedp.WithPollingTimeout(4*time.Minute), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func writePage(t testing.TB, s *site, name, html string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ---- image files ----

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// corruptPNG is a real PNG whose compressed image data is overwritten.
func corruptPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	b := encodePNG(t, img)
	i := bytes.Index(b, []byte("IDAT"))
	for k := i + 4; k < i+4+64 && k < len(b)-12; k++ {
		b[k] = 0xff
	}
	return b
}

// hugePNG is a real w×h PNG (one colour, so it is small on disk).
func hugePNG(t testing.TB, w, h int) []byte {
	return encodePNG(t, image.NewGray(image.Rect(0, 0, w, h)))
}

func bigJPEG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y += 1 {
		for x := 0; x < w; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = byte(x*255/w), byte(y*255/h), 128, 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// alphaPNG: left half transparent red (colour that must not show), right
// half opaque blue.
func alphaPNG(t testing.TB, n int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			c := color.NRGBA{255, 0, 0, 0}
			if x >= n/2 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return encodePNG(t, img)
}

// exifJPEG is a w×h JPEG, left half red and right half blue as stored, with
// an EXIF APP1 segment giving the orientation.
func exifJPEG(t testing.TB, w, h int, orientation uint16) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{230, 20, 20, 255}
			if x >= w/2 {
				c = color.RGBA{20, 20, 230, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	j := b.Bytes()
	// TIFF, big-endian: IFD0 at 8 with one SHORT entry 0x0112.
	tiff := []byte{'M', 'M', 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, byte(orientation >> 8), byte(orientation), 0, 0, 0, 0, 0, 0}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xff, 0xe1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	return append(append(append([]byte{}, j[:2]...), app1...), j[2:]...)
}

// ---- headers of huge images (the pixel data is left out: only the header
// is read before such a file is refused) ----

func le16(v int) []byte { return []byte{byte(v), byte(v >> 8)} }
func le32(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// fakeGIF: a logical screen of sw×sh, a comment, and a first frame of fw×fh
// whose data is one LZW clear code and the end code.
func fakeGIF(sw, sh, fw, fh int) []byte {
	b := append([]byte("GIF89a"), le16(sw)...)
	b = append(b, le16(sh)...)
	b = append(b, 0x80, 0, 0, 0, 0, 0, 255, 255, 255) // a global colour table of two
	b = append(b, 0x21, 0xfe, 5, 'h', 'e', 'l', 'l', 'o', 0)
	b = append(b, 0x2c, 0, 0, 0, 0)
	b = append(b, le16(fw)...)
	b = append(b, le16(fh)...)
	return append(b, 0, 2, 1, 0x2c, 0, 0x3b)
}

// fakeWebP: a RIFF WebP whose first chunk (VP8X or VP8L) gives w×h.
func fakeWebP(kind string, w, h int) []byte {
	var body []byte
	switch kind {
	case "VP8X":
		body = []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	case "VP8L":
		body = append([]byte{0x2f}, le32((w-1)|(h-1)<<14)...)
	}
	chunk := append(append([]byte(kind), le32(len(body))...), body...)
	if len(body)%2 == 1 {
		chunk = append(chunk, 0)
	}
	return append(append([]byte("RIFF"), le32(4+len(chunk))...), append([]byte("WEBP"), chunk...)...)
}

// fakeBMP: a 24-bit BITMAPINFOHEADER of w×h (bottom-up) and no pixels.
func fakeBMP(w, h int) []byte {
	b := append([]byte("BM"), le32(54+3*w*h)...)
	b = append(b, 0, 0, 0, 0)
	b = append(b, le32(54)...)
	b = append(b, le32(40)...)
	b = append(b, le32(w)...)
	b = append(b, le32(h)...)
	b = append(b, 1, 0, 24, 0)
	return append(b, make([]byte, 24)...)
}

// fakeISOBMFF: an ftyp box of the brand (AVIF, HEIC…) and an empty meta.
func fakeISOBMFF(brand string) []byte {
	b := append([]byte{0, 0, 0, 24}, "ftyp"+brand+"\x00\x00\x00\x00mif1"+brand...)
	return append(b, 0, 0, 0, 12, 'm', 'e', 't', 'a', 0, 0, 0, 0)
}

// padJPEG puts APP2 segments of n bytes in all after a JPEG's SOI, so its
// frame header comes that much later.
func padJPEG(t testing.TB, j []byte, n int) []byte {
	t.Helper()
	if j[0] != 0xff || j[1] != 0xd8 {
		t.Fatal("not a JPEG")
	}
	out := append([]byte{}, j[:2]...)
	for n > 0 {
		k := min(n, 65533-4)
		out = append(out, 0xff, 0xe2, byte((k+2)>>8), byte(k+2))
		out = append(out, make([]byte, k)...)
		n -= k + 4
	}
	return append(out, j[2:]...)
}

// jpegSize rewrites the size in a JPEG's frame header (its pixel data stays
// that of the smaller image).
func jpegSize(t testing.TB, j []byte, w, h int) []byte {
	t.Helper()
	j = append([]byte{}, j...)
	for i := 2; i+9 <= len(j) && j[i] == 0xff; i += 2 + (int(j[i+2])<<8 | int(j[i+3])) {
		if m := j[i+1]; m == 0xc0 || m == 0xc1 || m == 0xc2 {
			j[i+5], j[i+6], j[i+7], j[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
			return j
		}
	}
	t.Fatal("no frame header")
	return nil
}
