package e2e

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pageStats is window.novaeStats.
type pageStats struct {
	Marks map[string]float64
	Boot  struct {
		Backend, Adapter string
		MS               float64
	}
	Model struct {
		Name    string
		MS      float64
		Bytes   float64
		Sources []string
	}
	LastDone struct {
		MS, MsPerStep, DecodeMs float64
		Steps                   int
		DispatchesPerStep       int
	}
	SW string
}

func stats(t testing.TB, ctx context.Context) pageStats {
	t.Helper()
	return eval[pageStats](t, ctx, `window.novaeStats`)
}

// TestBrowser is the end-to-end test of the page on WebGPU and without it.
func TestBrowser(t *testing.T) {
	requireBrowser(t)
	s := build(t)
	tm := &timings{}
	defer tm.write(t)
	const long = 4 * time.Minute

	t.Run("webgpu", func(t *testing.T) {
		ctx := browser(t, true)
		start := time.Now()
		// URL parameters and autoplay: the first image, x_t and x̂₀ decoded at every step.
		// webgpu=1: SwiftShader alone would pick the CPU path (first_minute_test.go).
		if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"?webgpu=1&seed=7&class=3&steps=2&cfg=3&shift=0.3&sampler=euler&schedule=constant&view=both&autoplay=1")); err != nil {
			t.Fatal(err)
		}
		st := waitDone(t, ctx, "document", 1, long)
		wall := time.Since(start)
		if st.Backend != "webgpu" {
			t.Fatalf("backend %q, want webgpu (status %q)", st.Backend, st.Text)
		}
		ps := stats(t, ctx)
		t.Logf("adapter: %s; status: %s", ps.Boot.Adapter, st.Text)
		tm.add("webgpu, adapter %q", ps.Boot.Adapter)
		tm.add("  page start → wasm running (boot event): %.0f ms (of which WebGPU device %.0f ms)", ps.Marks["boot"], ps.Boot.MS)
		tm.add("  model ready: %.0f ms after page start (load %.0f ms: %.0f KiB of shards from %v)",
			ps.Marks["ready"], ps.Model.MS, ps.Model.Bytes/1024, uniq(ps.Model.Sources))
		tm.add("  first image (2 Euler steps, CFG 3, x_t and x̂₀ decoded at each step; pipelines compile on first use): %.0f ms after page start; the run %.0f ms: %.0f ms/step sampling, %.0f ms decoding in all",
			ps.Marks["firstImage"], ps.LastDone.MS, ps.LastDone.MsPerStep, ps.LastDone.DecodeMs)
		tm.add("  wall clock from navigation to the first image, as the test saw it: %v", wall.Round(time.Millisecond))
		// The readout shows time and GPU dispatches per step (what bounds speed on small GPUs).
		if d := ps.LastDone; d.MsPerStep <= 0 || d.DecodeMs <= 0 || d.DispatchesPerStep <= 0 ||
			!strings.Contains(st.Text, fmt.Sprintf("%d GPU dispatches per step", d.DispatchesPerStep)) || !strings.Contains(st.Text, "per step") {
			t.Errorf("timing readout: %+v, status %q", d, st.Text)
		}
		for _, src := range ps.Model.Sources {
			if src != "network" {
				t.Errorf("first visit: shard source %q, want network", src)
			}
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[string](`window.novaeStats.sw === "ready" || window.novaeStats.sw.startsWith("failed") ? window.novaeStats.sw : false`,
			chromedp.WithPollingTimeout(time.Minute))); err != nil {
			t.Fatalf("the service worker never became ready: %v", err)
		}
		if sw := stats(t, ctx).SW; sw != "ready" {
			t.Fatalf("service worker: %s", sw)
		}
		p := getPixels(t, ctx, viewJS)
		if p.Kind != "step" || p.Step != 1 || p.Steps != 2 || strings.Join(p.Layout.Panels, ",") != "xt,x0" {
			t.Errorf("final frame: kind %s step %d/%d panels %v", p.Kind, p.Step, p.Steps, p.Layout.Panels)
		}
		want := s.sampleCLI(t, false, 3, 7, 2, "euler", 3, 0.3)
		compare(t, "autoplay x̂₀ vs the CLI", p.tile(0, "x0"), want, maxLevels, meanLevels)
		compare(t, "autoplay x_t at t=1 vs the CLI", p.tile(0, "xt"), want, maxLevels, meanLevels)
		canvasCheck(t, ctx, p, "webgpu-1-autoplay")

		// The scrubber moves through the kept frames: frame 0 is the
		// starting noise, frame 1 the state after step 1.
		if v := eval[string](t, ctx, setInput("scrub", "1")); v != "1" {
			t.Fatalf("scrub value %q", v)
		}
		p0 := getPixels(t, ctx, viewJS)
		if p0.Step != 0 || p0.Seq <= p.Seq {
			t.Errorf("after scrubbing to 0: step %d seq %d", p0.Step, p0.Seq)
		}
		if string(p0.tile(0, "xt")) == string(p.tile(0, "xt")) {
			t.Error("step 1 looks like the final image")
		}
		if out := eval[string](t, ctx, `document.getElementById("scrub-out").textContent`); out != "step 1/2" {
			t.Errorf("scrub output %q", out)
		}
		canvasCheck(t, ctx, p0, "webgpu-2-scrubbed")

		// The controls: Heun, no guidance, another seed, class and shift, a
		// grid of four seeds, the final image only, started from the
		// keyboard (Enter in the seed field). Each cell is the image its
		// seed gives alone.
		for id, v := range map[string]string{"seed": "11", "class": "5", "steps": "2", "cfg": "1", "view": "final", "shift": "0.5", "grid": "4"} {
			if got := eval[string](t, ctx, setInput(id, v)); got != v {
				t.Fatalf("#%s = %q after setting %q", id, got, v)
			}
		}
		eval[bool](t, ctx, `(document.querySelector("input[name=sampler][value=heun]").click(), true)`)
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("seed")), chromedp.KeyEvent("\r")); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 2, long)
		p = getPixels(t, ctx, viewJS)
		if p.Layout.B != 4 || p.Layout.Cols != 2 || p.Kind != "final" || p.Steps != 2 {
			t.Fatalf("grid: %d images in %d columns, kind %s, %d steps", p.Layout.B, p.Layout.Cols, p.Kind, p.Steps)
		}
		var single []byte
		for i := range 4 {
			want := s.sampleCLI(t, false, 5, 11+uint64(i), 2, "heun", 1, 0.5)
			compare(t, fmt.Sprintf("controls: Heun, CFG off, grid cell %d vs the CLI with seed %d", i, 11+i), p.tile(i, "x0"), want, maxLevels, meanLevels)
			if i == 0 {
				single = want
			}
		}
		ps = stats(t, ctx)
		tm.add("  grid of 4 seeds, Heun, 2 steps, no CFG, final image only: run %.0f ms, %.0f ms/step (batch 4), %.0f ms decoding",
			ps.LastDone.MS, ps.LastDone.MsPerStep, ps.LastDone.DecodeMs)
		canvasCheck(t, ctx, p, "webgpu-3-grid")

		// Interpolation between seeds 11 and 12: the first frame is seed 11's image.
		eval[string](t, ctx, setInput("grid", "1"))
		eval[bool](t, ctx, `(document.getElementById("interp").open = true, true)`)
		eval[string](t, ctx, setInput("seed-b", "12"))
		eval[string](t, ctx, setInput("frames", "3"))
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("interp-go"))); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 3, long)
		p = getPixels(t, ctx, viewJS)
		if p.Layout.B != 3 || p.Layout.Rows != 1 {
			t.Fatalf("interpolation: %d images in %d rows", p.Layout.B, p.Layout.Rows)
		}
		compare(t, "interpolation frame 0 = seed 11", p.tile(0, "x0"), single, maxLevels, meanLevels)
		shot(t, ctx, "webgpu-4-interpolation")

		// Encode an uploaded image, then one img2img step from it.
		imgPath := filepath.Join(t.TempDir(), "gradient.png")
		writeGradient(t, imgPath, 32)
		eval[bool](t, ctx, `(document.getElementById("encode").open = true, true)`)
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{imgPath})); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("encode-go"))); err != nil {
			t.Fatal(err)
		}
		st = waitDone(t, ctx, "document", 4, long)
		p = getPixels(t, ctx, viewJS)
		if strings.Join(p.Layout.Panels, ",") != "input,pca,recon" {
			t.Fatalf("encode panels %v (status %q)", p.Layout.Panels, st.Text)
		}
		t.Logf("encode: %s", st.Text)
		canvasCheck(t, ctx, p, "webgpu-5-encode")
		eval[string](t, ctx, setInput("steps", "1"))
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("img2img-go"))); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 5, long)
		p = getPixels(t, ctx, viewJS)
		if strings.Join(p.Layout.Panels, ",") != "x0" || p.Kind != "final" || p.Steps != 1 { // the chosen view: only the final image
			t.Errorf("img2img: panels %v, kind %s, %d steps", p.Layout.Panels, p.Kind, p.Steps)
		}
		shot(t, ctx, "webgpu-6-img2img")

		// A second picture, then the straight line between the two latents.
		img2 := filepath.Join(t.TempDir(), "disc.png")
		writeGradient(t, img2, 17)
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{img2}),
			chromedp.Click(chromedp.ID("encode-go"))); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 6, long)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("interp-enc-go"))); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 7, long)
		p = getPixels(t, ctx, viewJS)
		if p.Kind != "interp" || p.Layout.B != 3 {
			t.Errorf("interpolation of encoded images: kind %s, %d images", p.Kind, p.Layout.B)
		}
		shot(t, ctx, "webgpu-6b-encoded-interpolation")

		// The embed snippet carries the settings, as text.
		if sn := eval[string](t, ctx, `document.getElementById("snippet").textContent`); !strings.HasPrefix(sn, "<iframe src=") ||
			!strings.Contains(sn, "seed=11") || !strings.Contains(sn, "autoplay=1") || !strings.Contains(sn, "controls=minimal") {
			t.Errorf("embed snippet %q", sn)
		}

		// The embedder's page: events out, a generate command in; the model
		// comes through ?weights= and from the cache.
		shards := s.requests.get(".safetensors")
		if shards == 0 {
			t.Error("the server saw no shard requests")
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"embedder.html")); err != nil {
			t.Fatal(err)
		}
		types, err := chromedp.Run(ctx, chromedp.Poll[[]string](`(() => { const ts = window.events.map((e) => e.type);
			return ts.includes("novae:done") || ts.includes("novae:error") ? ts : false; })()`,
			chromedp.WithPollingTimeout(long), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err != nil {
			shot(t, ctx, "embedder-timeout")
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, ty := range types {
			seen[ty] = true
		}
		for _, w := range []string{"novae:progress", "novae:ready", "novae:step", "novae:done"} {
			if !seen[w] {
				t.Errorf("embedder never got %s (got %v)", w, types)
			}
		}
		if seen["novae:error"] {
			t.Errorf("embedder got an error: %v", eval[any](t, ctx, `window.events.filter((e) => e.type === "novae:error")`))
		}
		inner := `document.getElementById("novae").contentWindow.document.querySelector("#viewbox iframe").contentWindow.novae`
		p = getPixels(t, ctx, inner)
		msg := s.sampleCLI(t, false, 1, 5, 1, "euler", 2.5, 0.3)
		compare(t, "postMessage generate vs the CLI", p.tile(0, "x0"), msg, maxLevels, meanLevels)
		if min := eval[bool](t, ctx, `getComputedStyle(document.getElementById("novae").contentDocument.querySelector("#controls fieldset > .field")).display === "none"`); !min {
			t.Error("controls=minimal still shows the fields")
		}
		if got := s.requests.get(".safetensors"); got != shards {
			t.Errorf("the embedded page fetched %d shards from the server instead of the cache", got-shards)
		}
		shot(t, ctx, "webgpu-8-embedded")

		// A visit with the server down: the page from the service worker,
		// the manifest and the weights from the cache. Its URL parameters are
		// clamped, and nothing from the URL becomes markup.
		url := s.url
		s.stop()
		start = time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"?seed=7&class=3&steps=1&cfg=99&shift=abc&sampler=heun&autoplay=1&view=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&schedule=%22%3E%3Cb%3E")); err != nil {
			t.Fatal(err)
		}
		st = waitDone(t, ctx, "document", 1, long)
		ps = stats(t, ctx)
		for _, src := range ps.Model.Sources {
			if src != "cache" {
				t.Errorf("offline visit: shard source %q, want cache", src)
			}
		}
		tm.add("  offline visit (page from the service worker, weights from the Cache API): model ready %.0f ms after page start, first image (1 Heun step, CFG 10, both views) at %.0f ms; test wall clock %v",
			ps.Marks["ready"], ps.Marks["firstImage"], time.Since(start).Round(time.Millisecond))
		if v := eval[string](t, ctx, `document.getElementById("cfg").value`); v != "10" {
			t.Errorf("cfg=99 gave #cfg %q, want the clamp 10", v)
		}
		if v := eval[string](t, ctx, `document.getElementById("shift").value`); v != "0.3" {
			t.Errorf("shift=abc gave #shift %q, want the model default 0.3", v)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("img, b").length`); n != 0 {
			t.Errorf("URL text became %d elements", n)
		}
		p = getPixels(t, ctx, viewJS)
		clamped := s.sampleCLI(t, false, 3, 7, 1, "heun", 10, 0.3)
		compare(t, "clamped URL parameters vs the CLI", p.tile(0, "x0"), clamped, maxLevels, meanLevels)

		s.start(t, strings.TrimPrefix(strings.TrimSuffix(url, "/"), "http://"))
		if s.url != url {
			t.Fatalf("the server came back at %s, not %s", s.url, url)
		}

		// The cache tiers: Cache API refused → IndexedDB → memory, and a
		// corrupt (half-written) entry is dropped and fetched again.
		tiers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(async () => {
			const f = document.querySelector("#viewbox iframe").contentWindow, w = f.novaeWeights;
			const [cacheAPI, idb, mem] = w.stores;
			const base = new URL("models/default/model.json", f.location.href).href;
			const s = JSON.parse((await w.fetchManifest(base)).text).shards[0];
			const log = [];
			const get = async () => { const r = await w.fetchShard(base, s.file, s.sha256, s.bytes, 0, s.bytes, null); log.push(r.source + ":" + (r.stored ?? "")); };
			await w.clearCache();
			cacheAPI.ok = () => false;
			await get(); await get();
			await idb.put(s.sha256, new Uint8Array(10));
			await get();
			idb.ok = () => false;
			await w.clearCache();
			await get(); await get();
			await mem.put(s.sha256, new Uint8Array(s.bytes));
			await get();
			return log; })()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(tiers, " "), "network:indexeddb indexeddb: network:indexeddb network:memory memory: network:memory"; got != want {
			t.Errorf("cache tiers: %s\n                     want %s", got, want)
		}

		// 320 px wide: nothing overflows sideways, the view still fits.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 700)); err != nil {
			t.Fatal(err)
		}
		if w := eval[int](t, ctx, `(document.body.offsetWidth, document.documentElement.scrollWidth)`); w > 320 {
			t.Errorf("at 320 px the page is %d px wide", w)
		}
		canvasCheck(t, ctx, p, "webgpu-7-320px")
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
			t.Fatal(err)
		}

	})

	t.Run("no-webgpu", func(t *testing.T) {
		ctx := browser(t, false)
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(s.url+"?seed=7&class=3&steps=2&cfg=3&shift=0.3&view=both&autoplay=1")); err != nil {
			t.Fatal(err)
		}
		st := waitDone(t, ctx, "document", 1, long)
		if st.Backend != "cpu" {
			t.Fatalf("backend %q without WebGPU, want cpu", st.Backend)
		}
		if hidden := eval[bool](t, ctx, `document.getElementById("nowebgpu").hidden`); hidden {
			t.Error("no message about the missing WebGPU")
		}
		label := eval[string](t, ctx, `document.getElementById("adapter").textContent`)
		if !strings.Contains(label, "CPU") {
			t.Errorf("backend label %q does not say CPU", label)
		}
		ps := stats(t, ctx)
		if d := ps.LastDone; d.MsPerStep <= 0 || d.DispatchesPerStep != 0 || strings.Contains(st.Text, "dispatches") {
			t.Errorf("CPU timing readout: %+v, status %q", d, st.Text)
		}
		tm.add("no WebGPU (CPU fallback, pure Go in wasm): model ready %.0f ms after page start, first image (2 Euler steps, CFG 3, both views) at %.0f ms: %.0f ms/step sampling, %.0f ms decoding; wall clock %v",
			ps.Marks["ready"], ps.Marks["firstImage"], ps.LastDone.MsPerStep, ps.LastDone.DecodeMs, time.Since(start).Round(time.Millisecond))
		p := getPixels(t, ctx, viewJS)
		cpu := s.sampleCLI(t, true, 3, 7, 2, "euler", 3, 0.3)
		compare(t, "CPU fallback vs the CLI on the CPU", p.tile(0, "x0"), cpu, 1, 0.05)
		gpu := s.sampleCLI(t, false, 3, 7, 2, "euler", 3, 0.3)
		compare(t, "CPU fallback vs the CLI on WebGPU", p.tile(0, "x0"), gpu, maxLevels, meanLevels)
		canvasCheck(t, ctx, p, "cpu-1-fallback")
	})
}

func uniq(v []string) []string {
	var out []string
	for _, s := range v {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// writeGradient writes an n×n test picture (gradients and a disc).
func writeGradient(t testing.TB, path string, n int) {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			c := color.RGBA{uint8(255 * x / n), uint8(255 * y / n), 128, 255}
			if dx, dy := x-n/2, y-n/2; dx*dx+dy*dy < n*n/9 {
				c = color.RGBA{240, 240, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
