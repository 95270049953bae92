// Package e2e tests the browser app end to end: it builds novae.wasm, the
// server and the CLI, writes a tiny random-weight model with
// `novae random -config testdata/tiny-random.json`, serves web/ with
// tools/serve, and drives headless Chromium (chromedp) through the page:
// loading with progress and caching (Cache API, IndexedDB, memory, and an
// offline visit through the service worker), generation compared pixel by
// pixel with the PNG of `novae sample` for the same settings, the canvas
// compared with what Go computed, the controls, the scrubber, grid mode,
// interpolation, encode and img2img, URL parameters, the postMessage API,
// 320 px, and a start without WebGPU (the CPU fallback). Screenshots and
// timings go to build/e2e/.
//
// It skips only when Chromium is missing and NOVAE_REQUIRE_BROWSER is unset.
// It never sleeps to synchronise: it waits on what the page reports
// (#status data-state/data-done, the frame the canvas has drawn).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Tolerance of a browser image against the CLI's PNG for the same
// settings: both are f32 on different WebGPU implementations (SwiftShader
// in Chromium, lavapipe/llvmpipe natively), so values may differ by float
// rounding and a pixel land one level either side: 2 levels of 255 per
// channel at most, 0.25 on average. (Measured here: 0 everywhere, the same
// kernels give the same bits on both.)
const (
	maxLevels  = 2
	meanLevels = 0.25
)

// repoRoot: go test runs in the package's directory, tools/e2e.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}()

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// site is the served page: web/ plus the built wasm and a test model.
type site struct {
	dir      string // the served directory
	url      string // http://127.0.0.1:port/
	manifest string // path of the test model's model.json
	serve    string // the tools/serve binary
	novae    string // the tools/novae CLI
	refs     string // its PNGs
	cmd      *exec.Cmd
	requests *counter
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range []string{".safetensors", "model.json", "novae.wasm"} {
		if strings.Contains(line, k) {
			c.n[k]++
		}
	}
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runE(dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runE(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// The site is built once per test binary and shared by the tests (TestMain
// removes it).
var shared struct {
	once sync.Once
	s    *site
	err  error
	log  string
	tmp  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.s != nil {
		shared.s.stop()
	}
	if shared.tmp != "" {
		os.RemoveAll(shared.tmp)
	}
	os.Exit(code)
}

// build makes the site as `make run` does, in a temporary directory, and
// serves it (again, if a test stopped the server).
func build(t testing.TB) *site {
	t.Helper()
	shared.once.Do(func() { shared.s, shared.err = buildSite() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Log(shared.log)
	s := shared.s
	if s.cmd == nil {
		addr := "127.0.0.1:0"
		if s.url != "" {
			addr = strings.TrimPrefix(strings.TrimSuffix(s.url, "/"), "http://")
		}
		s.start(t, addr)
	}
	return s
}

func buildSite() (*site, error) {
	tmp, err := os.MkdirTemp("", "novae-e2e-")
	if err != nil {
		return nil, err
	}
	shared.tmp = tmp
	web := filepath.Join(tmp, "web")
	start := time.Now()
	steps := [][]string{
		{"cp", "-r", filepath.Join(repoRoot, "web"), web},
		{"rm", "-rf", filepath.Join(web, "models")},
	}
	for _, st := range steps {
		if _, err := runE(repoRoot, nil, st[0], st[1:]...); err != nil {
			return nil, err
		}
	}
	if _, err := runE(repoRoot, []string{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(web, "novae.wasm"), "./wasm"); err != nil {
		return nil, err
	}
	goroot, err := runE(repoRoot, nil, "go", "env", "GOROOT")
	if err != nil {
		return nil, err
	}
	if _, err := runE(repoRoot, nil, "cp", filepath.Join(strings.TrimSpace(goroot), "lib", "wasm", "wasm_exec.js"), web); err != nil {
		return nil, err
	}
	bin := filepath.Join(tmp, "bin")
	if _, err := runE(repoRoot, nil, "go", "build", "-o", bin+"/", "./tools/serve", "./tools/novae"); err != nil {
		return nil, err
	}
	manifest := filepath.Join(web, "models", "default", "model.json")
	if _, err := runE(repoRoot, nil, filepath.Join(bin, "novae"), "random", "-config", filepath.Join(repoRoot, "tools", "e2e", "testdata", "tiny-random.json"),
		"-shard", "-shard-mb", "1", "-out", manifest, "-q"); err != nil {
		return nil, err
	}
	shared.log = fmt.Sprintf("built the site in %v", time.Since(start).Round(time.Millisecond))
	if st, err := os.Stat(filepath.Join(web, "novae.wasm")); err == nil {
		shared.log += fmt.Sprintf("; novae.wasm: %d bytes", st.Size())
	}

	// An embedder's page for the postMessage test.
	embed := `<!doctype html><meta charset="utf-8"><title>embedder</title>
<iframe id="novae" src="index.html?controls=minimal&weights=models/default/model.json&seed=21&steps=1&class=4&cfg=1" width="480" height="320"></iframe>
<script>
window.events = [];
addEventListener("message", (e) => {
  if (e.source !== document.getElementById("novae").contentWindow) return;
  window.events.push(e.data);
  if (e.data.type === "novae:ready") e.source.postMessage({type: "novae:generate", options: {seed: 5, steps: 1, class: 1, cfg: 2.5, sampler: "euler", view: "final", junk: "<b>x</b>"}}, "*");
});
</script>`
	if err := os.WriteFile(filepath.Join(web, "embedder.html"), []byte(embed), 0o644); err != nil {
		return nil, err
	}
	refs := filepath.Join(tmp, "refs")
	os.MkdirAll(refs, 0o755)
	s := &site{dir: web, manifest: manifest, serve: filepath.Join(bin, "serve"), novae: filepath.Join(bin, "novae"),
		refs: refs, requests: &counter{n: map[string]int{}}}
	if err := s.startE("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs tools/serve on addr and reads the URL it prints.
func (s *site) start(t testing.TB, addr string) {
	t.Helper()
	if err := s.startE(addr); err != nil {
		t.Fatal(err)
	}
}

func (s *site) startE(addr string) error {
	cmd := exec.Command(s.serve, "-addr", addr, "-dir", s.dir)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	go func() { // the request log
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.requests.add(sc.Text())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("serve printed no URL: %v", err)
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		return fmt.Errorf("serve printed %q", line)
	}
	s.url = strings.TrimSpace(line[i:])
	return nil
}

// stop ends the server (the site is then offline).
func (s *site) stop() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// sampleCLI runs the native CLI (novae sample) with the same settings and
// returns its PNG's pixels (S×S×4): the reference the page must match.
func (s *site) sampleCLI(t testing.TB, cpu bool, class int, seed uint64, steps int, sampler string, cfg, shift float64) []byte {
	t.Helper()
	out := filepath.Join(s.refs, fmt.Sprintf("c%d-s%d-n%d-%s-w%g-sh%g-cpu%v.png", class, seed, steps, sampler, cfg, shift, cpu))
	args := []string{"sample", "-weights", s.manifest, "-class", fmt.Sprint(class), "-seed", fmt.Sprint(seed),
		"-steps", fmt.Sprint(steps), "-sampler", sampler, "-cfg", fmt.Sprint(cfg), "-shift", fmt.Sprint(shift),
		"-schedule", "constant", "-out", out, "-q"}
	if cpu {
		args = append(args, "-cpu")
	}
	run(t, repoRoot, nil, s.novae, args...)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	px := make([]byte, 0, b.Dx()*b.Dy()*4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			px = append(px, byte(r>>8), byte(g>>8), byte(bl>>8), byte(a>>8))
		}
	}
	return px
}

// pixels is what novae.pixels() returns.
type pixels struct {
	W, H   int
	RGBA   []byte
	Seq    int64
	Step   int
	Steps  int
	Kind   string
	Layout struct {
		S, Gap, Sep, B, Cols, Rows, W, H int
		Panels                           []string
	}
}

func (p pixels) tile(i int, panel string) []byte {
	pi := -1
	for k, n := range p.Layout.Panels {
		if n == panel {
			pi = k
		}
	}
	if pi < 0 {
		return nil
	}
	l := p.Layout
	c, r := i%l.Cols, i/l.Cols
	// Images sit Sep apart, the panels of one image Gap apart (wasm/frames.go).
	x0, y0 := c*(len(l.Panels)*(l.S+l.Gap)-l.Gap+l.Sep)+pi*(l.S+l.Gap), r*(l.S+l.Sep)
	var out []byte
	for y := range l.S {
		o := ((y0+y)*l.W + x0) * 4
		out = append(out, p.RGBA[o:o+l.S*4]...)
	}
	return out
}

// viewJS reaches the view iframe's novae API from the page.
const viewJS = `document.querySelector("#viewbox iframe").contentWindow.novae`

func getPixels(t testing.TB, ctx context.Context, api string) pixels {
	t.Helper()
	type raw struct {
		W, H   int
		RGBA   []int
		Seq    int64
		Step   int
		Steps  int
		Kind   string
		Layout struct {
			S, Gap, Sep, B, Cols, Rows, W, H int
			Panels                           []string
		}
	}
	r, err := chromedp.Run(ctx, chromedp.Evaluate[raw](`(() => { const p = `+api+`.pixels();
		return {w: p.w, h: p.h, rgba: Array.from(p.rgba), seq: p.seq, step: p.step, steps: p.steps, kind: p.kind, layout: p.layout}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	p := pixels{W: r.W, H: r.H, Seq: r.Seq, Step: r.Step, Steps: r.Steps, Kind: r.Kind, Layout: r.Layout}
	p.RGBA = make([]byte, len(r.RGBA))
	for i, v := range r.RGBA {
		p.RGBA[i] = byte(v)
	}
	return p
}

// compare checks two RGBA images within the stated tolerance.
func compare(t testing.TB, what string, got, want []byte, maxD int, meanD float64) {
	t.Helper()
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	worst, wi, sum, n := 0, 0, 0, 0
	var lo, hi byte = 255, 0
	for i := range got {
		if i%4 == 3 {
			continue
		}
		d := int(got[i]) - int(want[i])
		if d < 0 {
			d = -d
		}
		if d > worst {
			worst, wi = d, i
		}
		sum += d
		n++
		lo, hi = min(lo, want[i]), max(hi, want[i])
	}
	mean := float64(sum) / float64(n)
	if hi-lo < 32 {
		t.Errorf("%s: the reference image is nearly flat (%d..%d): the comparison would prove little", what, lo, hi)
	}
	if worst > maxD || mean > meanD {
		t.Errorf("%s: max |diff| %d at byte %d (got %d want %d), mean %.3f; tolerance %d / %.2f",
			what, worst, wi, got[wi], want[wi], mean, maxD, meanD)
		return
	}
	t.Logf("%s: OK, max |diff| %d levels, mean %.3f (values %d..%d)", what, worst, mean, lo, hi)
}

// browser starts headless Chromium with the flags that give it WebGPU.
func browser(t testing.TB, webgpu bool) context.Context {
	t.Helper()
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile),
	}
	if webgpu {
		opts = append(opts, chromedp.Flag("enable-unsafe-webgpu", true))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	// Uncaught exceptions fail the test; errors and warnings are logged.
	var mu sync.Mutex
	var exceptions, logs []string
	closed := false
	t.Cleanup(func() { // runs before the browser is closed (LIFO)
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, l := range logs {
			t.Log(l)
		}
		for _, e := range exceptions {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			exceptions = append(exceptions, msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				logs = append(logs, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

type status struct {
	State, Text, Backend string
	Done                 int
}

// waitDone waits until #status reports at least n finished runs (or an
// error, which fails the test).
func waitDone(t testing.TB, ctx context.Context, doc string, n int, timeout time.Duration) status {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const s = %s.querySelector("#status"); if (!s) return false;
		const st = {state: s.dataset.state, text: s.textContent, backend: s.dataset.backend || "", done: +s.dataset.done};
		return st.state === "error" || (st.state === "done" && st.done >= %d) ? st : false; })()`, doc, n)
	st, err := chromedp.Run(ctx, chromedp.Poll[status](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		shot(t, ctx, "timeout")
		t.Fatalf("waiting for run %d: %v", n, err)
	}
	if st.State == "error" {
		shot(t, ctx, "error")
		t.Fatalf("the page reports an error: %s", st.Text)
	}
	return st
}

func waitReady(t testing.TB, ctx context.Context, timeout time.Duration) status {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Poll[status](`(() => { const s = document.querySelector("#status");
		const st = {state: s.dataset.state, text: s.textContent, backend: s.dataset.backend || "", done: +s.dataset.done};
		return st.state === "ready" || st.state === "error" || st.state === "done" ? st : false; })()`,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		shot(t, ctx, "timeout")
		t.Fatalf("waiting for ready: %v", err)
	}
	if st.State == "error" {
		shot(t, ctx, "error")
		t.Fatalf("the page reports an error: %s", st.Text)
	}
	return st
}

var outDir = filepath.Join(repoRoot, "build", "e2e")

func shot(t testing.TB, ctx context.Context, name string) []byte {
	t.Helper()
	chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("viewbox")?.scrollIntoView({block: "nearest"}), true)`))
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return nil
	}
	os.MkdirAll(outDir, 0o755)
	p := filepath.Join(outDir, name+".png")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
	return b
}

// canvasCheck waits until the canvas has drawn frame p, takes a screenshot
// and checks the centre of every pixel cell against p: what the visitor
// sees is what Go computed. ebiten scales the frame to fit the canvas,
// centred, with crisp edges, so cell centres hold exact colours.
func canvasCheck(t testing.TB, ctx context.Context, p pixels, name string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`%s.drawn() >= %d`, viewJS, p.Seq),
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the canvas never drew frame %d: %v", p.Seq, err)
	}
	type rect struct{ X, Y, W, H, DPR float64 }
	r, err := chromedp.Run(ctx, chromedp.Evaluate[rect](`(() => { const f = document.querySelector("#viewbox iframe");
		f.scrollIntoView({block: "start"});
		const b = f.getBoundingClientRect(); const c = f.contentDocument.querySelector("canvas").getBoundingClientRect();
		return {x: b.left + c.left, y: b.top + c.top, w: c.width, h: c.height, dpr: devicePixelRatio}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	// One more frame after the draw, so the compositor has it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`,
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	b := shot(t, ctx, name)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	scale := math.Min(r.W/float64(p.W), r.H/float64(p.H))
	ox, oy := r.X+(r.W-scale*float64(p.W))/2, r.Y+(r.H-scale*float64(p.H))/2
	if scale < 2 {
		t.Fatalf("the frame is drawn at scale %.2f: too small to check cell centres", scale)
	}
	worst, bad := 0, 0
	for y := range p.H {
		for x := range p.W {
			sx, sy := int((ox+(float64(x)+0.5)*scale)*r.DPR), int((oy+(float64(y)+0.5)*scale)*r.DPR)
			if !(image.Point{sx, sy}.In(img.Bounds())) {
				t.Fatalf("canvas %s: pixel (%d,%d) of the frame is off the screenshot at (%d,%d)", name, x, y, sx, sy)
			}
			c := img.At(sx, sy)
			cr, cg, cb, _ := c.RGBA()
			got := []int{int(cr >> 8), int(cg >> 8), int(cb >> 8)}
			for k := range 3 {
				d := got[k] - int(p.RGBA[(y*p.W+x)*4+k])
				if d < 0 {
					d = -d
				}
				if d > worst {
					worst = d
				}
				if d > 2 {
					bad++
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("canvas %s: %d channel values differ from the frame by more than 2 levels (worst %d)", name, bad, worst)
	} else {
		t.Logf("canvas %s: %d×%d frame at scale %.1f matches the screenshot (worst %d levels)", name, p.W, p.H, scale, worst)
	}
}

func setInput(id, value string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return e.value; })()`, id, value)
}

func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

type timings struct {
	mu    sync.Mutex
	lines []string
}

func (tm *timings) add(format string, a ...any) {
	tm.mu.Lock()
	tm.lines = append(tm.lines, fmt.Sprintf(format, a...))
	tm.mu.Unlock()
}

func (tm *timings) write(t testing.TB) {
	os.MkdirAll(outDir, 0o755)
	text := strings.Join(tm.lines, "\n") + "\n"
	t.Logf("timings (headless Chromium, SwiftShader):\n%s", text)
	os.WriteFile(filepath.Join(outDir, "timings.txt"), []byte(text), 0o644)
}

func requireBrowser(t testing.TB) {
	if _, err := os.Stat(chromiumPath()); err != nil {
		if os.Getenv("NOVAE_REQUIRE_BROWSER") == "" {
			t.Skipf("no Chromium at %s: scripts/setup.sh installs it (NOVAE_REQUIRE_BROWSER=1 turns this skip into a failure)", chromiumPath())
		}
		t.Fatalf("no Chromium at %s (NOVAE_REQUIRE_BROWSER is set)", chromiumPath())
	}
}
