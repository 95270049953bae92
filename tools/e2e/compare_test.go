package e2e

// TestCompare drives compare mode: a model shipped with a VAE-latent twin
// (<name>-vae beside <name>, listed by scripts/models.sh) runs beside it with
// the same settings. Both halves of the canvas are compared with `novae
// sample` of each model for the same class, seed, steps, sampler, CFG and
// shift, through the switch, the URL parameter (compare=1), the postMessage
// option (compare: true) and on the CPU path. The models are tiny random
// ones (testdata/tiny-random.json and a VAE twin of its size and classes),
// served from their own site so that the other tests' site keeps one model.

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// tinyVAE is the twin of testdata/tiny-random.json: the same image size,
// classes and DiT, on the latent of a small LDM KL autoencoder (f2, 4
// channels: the same 4×4 token grid).
const tinyVAE = `{
 "name": "tiny-random-vae",
 "image": 8,
 "classes": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
 "dit": {"InChannels": 4, "Grid": 4, "Hidden": 64, "Depth": 2, "Heads": 4, "MLPRatio": 4, "NumClasses": 10, "QKNorm": true, "LearnSigma": true},
 "decoder": {"ZChannels": 6, "Ch": 8, "ChMult": [1, 2], "NumResBlocks": 1, "AttnRes": [4], "Resolution": 8, "OutCh": 3, "Groups": 4},
 "latent": "vae",
 "vae": {"Ch": 8, "ChMult": [1, 2], "NumResBlocks": 1, "AttnRes": [4], "Resolution": 8, "InCh": 3, "ZChannels": 6, "EmbedDim": 4, "Groups": 4},
 "defaults": {"steps": 4, "cfg": 3, "shift": 0.3, "schedule": "constant"},
 "feature_norm": true
}`

// An eval.json of novae eval's form for each model, so the caption's
// figures can be checked (made up: the caption only quotes them).
const (
	evalSVG = `{"format": "novae-eval/1", "generation": [{"steps": 1, "cfg": 6, "accuracy": 0.5, "fd": 90},
		{"steps": 4, "cfg": 1, "accuracy": 0.7, "fd": 40}, {"steps": 4, "cfg": 6, "accuracy": 0.981, "fd": 12.34}]}`
	evalVAE = `{"format": "novae-eval/1", "generation": [{"steps": 4, "cfg": 6, "accuracy": 0.625, "fd": 56.78}]}`
)

type compareSite struct {
	*site
	svg, vae *site // the CLI references of each model (manifest and refs differ)
}

var compareShared struct {
	once sync.Once
	s    *compareSite
	err  error
}

// buildCompare makes the compare site from the shared one: its page and
// wasm, and models/ written by scripts/models.sh from a source folder with
// tiny/ and tiny-vae/ (and zlone/, a model without a twin).
func buildCompare(t *testing.T, s *site) *compareSite {
	t.Helper()
	compareShared.once.Do(func() { compareShared.s, compareShared.err = buildCompareE(s) })
	if compareShared.err != nil {
		t.Fatal(compareShared.err)
	}
	return compareShared.s
}

func buildCompareE(s *site) (*compareSite, error) {
	root := filepath.Join(shared.tmp, "compare")
	dir, src := filepath.Join(root, "web"), filepath.Join(root, "src")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if _, err := runE(repoRoot, nil, "cp", "-r", s.dir, dir); err != nil {
		return nil, err
	}
	// models/ is written below; compressed twins of an older novae.wasm (make
	// run's, copied with new times) must not be served in place of the build.
	for _, f := range []string{"models", "novae.wasm.br", "novae.wasm.gz"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return nil, err
		}
	}
	vcfg := filepath.Join(root, "tiny-vae.json")
	if err := os.WriteFile(vcfg, []byte(tinyVAE), 0o644); err != nil {
		return nil, err
	}
	for _, m := range []struct{ name, cfg, eval string }{
		{"tiny", filepath.Join(repoRoot, "tools", "e2e", "testdata", "tiny-random.json"), evalSVG},
		{"tiny-vae", vcfg, evalVAE},
		{"zlone", filepath.Join(repoRoot, "tools", "e2e", "testdata", "tiny-random.json"), ""},
	} {
		if _, err := runE(repoRoot, nil, s.novae, "random", "-config", m.cfg, "-seed", "3", "-std", "0.05", "-shard", "-shard-mb", "1",
			"-out", filepath.Join(src, m.name, "model.json"), "-q"); err != nil {
			return nil, err
		}
		if m.eval != "" {
			os.MkdirAll(filepath.Join(src, m.name, "eval"), 0o755)
			if err := os.WriteFile(filepath.Join(src, m.name, "eval", "eval.json"), []byte(m.eval), 0o644); err != nil {
				return nil, err
			}
		}
	}
	if _, err := runE(repoRoot, []string{"GO=go"}, "bash", filepath.Join(repoRoot, "scripts", "models.sh"), filepath.Join(dir, "models"), src); err != nil {
		return nil, err
	}
	host := fmt.Sprintf(embedHost, "index.html?controls=minimal&webgpu=1&autoplay=0&steps=2")
	if err := os.WriteFile(filepath.Join(dir, "host.html"), []byte(host), 0o644); err != nil {
		return nil, err
	}
	c := &compareSite{site: &site{dir: dir, serve: s.serve, novae: s.novae, refs: filepath.Join(root, "refs"), requests: &counter{n: map[string]int{}}}}
	for _, side := range []struct {
		p    **site
		name string
	}{{&c.svg, "tiny"}, {&c.vae, "tiny-vae"}} {
		ref := *c.site
		ref.manifest = filepath.Join(dir, "models", side.name, "model.json")
		ref.refs = filepath.Join(root, "refs", side.name)
		os.MkdirAll(ref.refs, 0o755)
		*side.p = &ref
	}
	if err := c.startE("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return c, nil
}

// checkBoth compares both halves of the compare frame on show with `novae
// sample` of each model (the x̂₀ panel, and x_t where the view has it: at
// t = 1 the two are the same latent).
func checkBoth(t *testing.T, ctx context.Context, api string, c *compareSite, cpu bool, class int, seed uint64, steps int, sampler string, cfg, shift float64, what string) pixels {
	t.Helper()
	p := getPixels(t, ctx, api)
	l := p.Layout
	if l.B != 2 || l.Cols != 2 || l.Rows != 1 || p.Step != steps-1 || p.Steps != steps {
		t.Fatalf("%s: frame %s step %d/%d, layout %+v: want both models' last step side by side", what, p.Kind, p.Step, p.Steps, l)
	}
	maxD, meanD := maxLevels, meanLevels
	if cpu { // the CPU path against the CLI on the CPU: the same Go code
		maxD, meanD = 1, 0.05
	}
	for i, ref := range []*site{c.svg, c.vae} {
		want := ref.sampleCLI(t, cpu, class, seed, steps, sampler, cfg, shift)
		for _, panel := range l.Panels {
			compare(t, fmt.Sprintf("%s: %s %s vs novae sample", what, []string{"SVG latent", "VAE latent"}[i], panel), p.tile(i, panel), want, maxD, meanD)
		}
	}
	return p
}

func TestCompare(t *testing.T) {
	requireBrowser(t)
	c := buildCompare(t, build(t))
	const long = 4 * time.Minute
	labels := func(ctx context.Context) []string {
		return eval[[]string](t, ctx, viewJS+`.pixels().layout.labels`)
	}

	t.Run("switch", func(t *testing.T) {
		ctx := browser(t, true)
		if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"?webgpu=1&autoplay=0&class=3&seed=7&steps=2&cfg=3&shift=0.3&sampler=euler&view=both&grid=4")); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, long)
		// The switch is there for a model with a twin, off until asked.
		if hidden := eval[bool](t, ctx, `document.getElementById("compare-row").hidden || document.getElementById("compare").checked`); hidden {
			t.Fatal("the compare switch is hidden or already on for a model with a twin")
		}
		// Switching it on loads the twin and runs both at once (grid 4 → one image each).
		eval[bool](t, ctx, `(document.getElementById("compare").click(), true)`)
		st := waitDone(t, ctx, "document", 1, long)
		p := checkBoth(t, ctx, viewJS, c, false, 3, 7, 2, "euler", 3, 0.3, "switch")
		if got := strings.Join(labels(ctx), "|"); got != "SVG latent|VAE latent" {
			t.Errorf("layout labels %q", got)
		}
		if strings.Join(p.Layout.Panels, ",") != "xt,x0" {
			t.Errorf("panels %v, want xt,x0", p.Layout.Panels)
		}
		heads := eval[string](t, ctx, `document.getElementById("compare-heads").hidden ? "" : document.getElementById("compare-heads").textContent`)
		if !strings.Contains(heads, "SVG latent (tiny-random)") || !strings.Contains(heads, "VAE latent (tiny-vae)") || strings.Count(heads, "per step") != 2 {
			t.Errorf("the heads over the two halves say %q", heads)
		}
		if !strings.Contains(st.Text, "on both latents") || !strings.Contains(st.Text, "SVG ") || !strings.Contains(st.Text, "VAE ") {
			t.Errorf("status %q", st.Text)
		}
		// The caption: what is seen, the paper's figures and ours from each eval.json.
		cap := eval[string](t, ctx, `document.getElementById("compare-cap").hidden ? "" : document.getElementById("compare-cap").textContent`)
		for _, want := range []string{"12.26", "69.38", "SD-VAE", "at 4 guided steps", "98.1%", "62.5%", "12.3", "56.8"} {
			if !strings.Contains(cap, want) {
				t.Errorf("the caption lacks %q: %q", want, cap)
			}
		}
		if strings.Count(cap, ". ") < 1 || strings.Contains(cap, "pending") {
			t.Errorf("caption %q", cap)
		}
		// The twin's weights came through weights.js like the first model's.
		tw := eval[map[string]any](t, ctx, `window.novaeStats.twin`)
		if tw["latent"] != "vae" || tw["name"] != "tiny-random-vae" || tw["encoders"] != true {
			t.Errorf("twin info %v", tw)
		}
		// The scrubber moves both: frame 0 holds both starting noises (each
		// model's own, so the halves differ), the last frame both results.
		eval[string](t, ctx, setInput("scrub", "0"))
		p0 := getPixels(t, ctx, viewJS)
		if p0.Step != -1 || p0.Layout.B != 2 || string(p0.tile(0, "x0")) == string(p0.tile(1, "x0")) {
			t.Errorf("scrubbed to frame 0: step %d, layout %+v", p0.Step, p0.Layout)
		}
		eval[string](t, ctx, setInput("scrub", "2"))
		if p2 := getPixels(t, ctx, viewJS); string(p2.RGBA) != string(p.RGBA) {
			t.Error("scrubbing back to the last frame does not show the last frame of both")
		}
		canvasCheck(t, ctx, p, "compare-1-switch")
		// Snippet: compare=1, no grid.
		snip := eval[string](t, ctx, `document.getElementById("snippet").textContent`)
		if !strings.Contains(snip, "compare=1") || strings.Contains(snip, "grid=") {
			t.Errorf("snippet %q", snip)
		}
		// Without figures in an eval.json, the caption says ours are pending.
		line, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import("./app.js").then((m) => m.oursLine(null, {generation: []}))`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.Contains(line, "pending") {
			t.Errorf("oursLine without figures: %q, %v", line, err)
		}
		// Off again: one model, the grid back.
		eval[bool](t, ctx, `(document.getElementById("compare").click(), true)`)
		eval[bool](t, ctx, `(document.getElementById("generate").click(), true)`)
		waitDone(t, ctx, "document", 2, long)
		if p := getPixels(t, ctx, viewJS); p.Layout.B != 4 || len(labels(ctx)) != 0 {
			t.Errorf("compare off: layout %+v labels %v", p.Layout, labels(ctx))
		}
	})

	// A second visit takes both models' weights from this browser's storage.
	t.Run("cached", func(t *testing.T) {
		ctx := browser(t, true)
		for visit := range 2 {
			if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"?webgpu=1&compare=1&autoplay=1&steps=1&view=final")); err != nil {
				t.Fatal(err)
			}
			waitDone(t, ctx, "document", 1, long)
			src := eval[[]string](t, ctx, `window.novaeStats.twin.sources`)
			for _, s := range src {
				if (s == "network") != (visit == 0) {
					t.Errorf("visit %d: a shard of the twin came from %q", visit+1, s)
				}
			}
			t.Logf("visit %d: the twin's shards from %v", visit+1, src)
		}
	})

	t.Run("url", func(t *testing.T) {
		ctx := browser(t, true)
		if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"?webgpu=1&compare=1&autoplay=1&class=5&seed=11&steps=3&cfg=1&shift=0.5&sampler=heun&view=x0")); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 1, long)
		p := checkBoth(t, ctx, viewJS, c, false, 5, 11, 3, "heun", 1, 0.5, "compare=1")
		if strings.Join(p.Layout.Panels, ",") != "x0" {
			t.Errorf("panels %v", p.Layout.Panels)
		}
		// A model without a twin has no switch, and the URL's compare=1 is ignored.
		if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"?webgpu=1&model=zlone&compare=1&autoplay=1&steps=1")); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ctx, "document", 1, long)
		if !eval[bool](t, ctx, `document.getElementById("compare-row").hidden`) || len(labels(ctx)) != 0 {
			t.Error("a model without a twin shows the compare switch or a compare frame")
		}
	})

	t.Run("postMessage", func(t *testing.T) {
		ctx := browser(t, true)
		if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"host.html")); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ctx, `e.type === "novae:ready"`, long)
		// Invalid: not a boolean, and with a grid of several images.
		send(t, ctx, map[string]any{"type": "novae:generate", "id": "bad1", "options": map[string]any{"compare": "yes"}})
		send(t, ctx, map[string]any{"type": "novae:generate", "id": "bad2", "options": map[string]any{"compare": true, "grid": 4}})
		for _, id := range []string{"bad1", "bad2"} {
			e := waitEvent(t, ctx, `e.id === "`+id+`"`, time.Minute)
			if e.str("type") != "novae:error" || e.str("option") != "compare" {
				t.Errorf("%s: %v, want novae:error naming compare", id, e)
			}
		}
		send(t, ctx, map[string]any{"type": "novae:generate", "id": "cmp", "options": map[string]any{"compare": true, "class": 2, "seed": 9, "steps": 2, "cfg": 2.5, "shift": 0.3, "sampler": "euler", "view": "final"}})
		done := waitEvent(t, ctx, `e.id === "cmp" && (e.type === "novae:done" || e.type === "novae:error" || e.type === "novae:canceled")`, long)
		if done.str("type") != "novae:done" {
			t.Fatalf("compare command ended with %v", done)
		}
		evs := events(t, ctx, `e.id === "cmp"`)
		if len(evs) != 4 {
			t.Fatalf("compare command: %d events, want started, two steps and done: %v", len(evs), types(evs))
		}
		if got := strings.Join(types(evs), ","); got != "novae:started,novae:step,novae:step,novae:done" {
			t.Errorf("events of the compare command: %s", got)
		}
		if st := evs[0]; st["compare"] != true || st.str("twin") != "tiny-random-vae" || st.num("seed") != 9 || st.num("class") != 2 {
			t.Errorf("novae:started %v", st)
		}
		for _, e := range evs[1:3] {
			if !(e.num("ms") > 0 && e.num("twinMs") > 0) {
				t.Errorf("novae:step without both models' times: %v", e)
			}
		}
		if !(done.num("msPerStep") > 0 && done.num("twinMsPerStep") > 0) {
			t.Errorf("novae:done without both models' times per step: %v", done)
		}
		inner := `document.getElementById("f").contentWindow.document.querySelector("#viewbox iframe").contentWindow.novae`
		checkBoth(t, ctx, inner, c, false, 2, 9, 2, "euler", 2.5, 0.3, "postMessage compare")
		// novae:image: both final pictures, side by side.
		send(t, ctx, map[string]any{"type": "novae:image", "id": "img"})
		img := waitEvent(t, ctx, `e.id === "img"`, time.Minute)
		if img.str("type") != "novae:image" || img.num("images") != 2 || img.str("of") != "cmp" {
			t.Fatalf("novae:image %v", img)
		}
		W, _, px := dataURLPixels(t, img.str("dataURL"))
		S := int(img.num("size"))
		for i, ref := range []*site{c.svg, c.vae} {
			x0 := i * (W - S) // the two images at either end
			compare(t, fmt.Sprintf("novae:image, %s", []string{"SVG latent", "VAE latent"}[i]), crop(px, W, x0, 0, S), ref.sampleCLI(t, false, 2, 9, 2, "euler", 2.5, 0.3), maxLevels, meanLevels)
		}
	})

	// A VAE-latent model on its own: encode goes through its encoder
	// ([-1,1] pixels, posterior mean, normalised), the reconstruction equals
	// `novae reconstruct`, and img2img and the line between two encoded
	// pictures run on its latent.
	t.Run("vae-encode", func(t *testing.T) {
		ctx := browser(t, true)
		if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"?webgpu=1&model=tiny-vae&autoplay=0&steps=2&view=final")); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, long)
		if m := eval[map[string]any](t, ctx, `window.novaeStats.model`); m["latent"] != "vae" || m["encoders"] != true {
			t.Fatalf("model info %v: want latent vae with encoders", m)
		}
		if cap := eval[string](t, ctx, `document.getElementById("encode-cap").textContent`); !strings.Contains(cap, "KL autoencoder") {
			t.Errorf("encode caption %q", cap)
		}
		dir := t.TempDir()
		var recon [2][]byte
		for i, n := range []int{8, 5} {
			img := filepath.Join(dir, fmt.Sprintf("g%d.png", i))
			writeGradient(t, img, n)
			if n != 8 { // the page takes S×S pixels: write this one at 8×8 too, scaled by nearest neighbour
				_, _, small := pngPixels(t, mustRead(t, img))
				writeRGBA(t, img, upscaleNearest(small, n, 8), 8)
			}
			_, _, px := pngPixels(t, mustRead(t, img))
			out := filepath.Join(dir, fmt.Sprintf("r%d.png", i))
			run(t, repoRoot, nil, c.novae, "reconstruct", "-weights", c.vae.manifest, "-out", out, img)
			_, _, want := pngPixels(t, mustRead(t, out))
			eval[bool](t, ctx, `(`+viewJS+`.encode(new Uint8Array(`+mustJSON(bytesToInts(px))+`)), true)`)
			st := waitDone(t, ctx, "document", 1+i, long)
			p := getPixels(t, ctx, viewJS)
			if strings.Join(p.Layout.Panels, ",") != "input,pca,recon" || !strings.Contains(st.Text, "16 tokens × 4 channels") {
				t.Fatalf("encode: panels %v, status %q", p.Layout.Panels, st.Text)
			}
			if leg := eval[string](t, ctx, `document.getElementById("panel-legend").textContent`); !strings.Contains(leg, "VAE latent") {
				t.Errorf("encode legend %q", leg)
			}
			recon[i] = p.tile(0, "recon")
			compare(t, fmt.Sprintf("VAE encode → decode of picture %d vs novae reconstruct", i+1), recon[i], want, maxLevels, meanLevels)
		}
		eval[bool](t, ctx, `(document.getElementById("img2img-go").click(), true)`)
		waitDone(t, ctx, "document", 3, long)
		if p := getPixels(t, ctx, viewJS); p.Kind != "final" || p.Steps != 2 || p.Layout.B != 1 {
			t.Errorf("img2img on the VAE latent: kind %s, %d steps, %d images", p.Kind, p.Steps, p.Layout.B)
		}
		eval[bool](t, ctx, `(document.getElementById("interp-enc-go").click(), true)`)
		waitDone(t, ctx, "document", 4, long)
		p := getPixels(t, ctx, viewJS)
		if p.Kind != "interp" || p.Layout.B != 5 {
			t.Fatalf("interpolation of encoded VAE latents: kind %s, %d images", p.Kind, p.Layout.B)
		}
		compare(t, "interpolation frame 0 = reconstruction of picture 1", p.tile(0, "x0"), recon[0], maxLevels, meanLevels)
		compare(t, "last interpolation frame = reconstruction of picture 2", p.tile(4, "x0"), recon[1], maxLevels, meanLevels)
	})

	t.Run("cpu", func(t *testing.T) {
		ctx := browser(t, false)
		if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"?compare=1&autoplay=1&class=1&seed=4&steps=2&cfg=3&shift=0.3&view=both")); err != nil {
			t.Fatal(err)
		}
		st := waitDone(t, ctx, "document", 1, long)
		if st.Backend != "cpu" || !strings.Contains(st.Text, "CPU path, slower than WebGPU") {
			t.Errorf("backend %s, status %q: want the CPU path, labelled", st.Backend, st.Text)
		}
		checkBoth(t, ctx, viewJS, c, true, 1, 4, 2, "euler", 3, 0.3, "CPU path")
		heads := eval[string](t, ctx, `document.getElementById("compare-heads").textContent`)
		if strings.Count(heads, "on the CPU") != 2 {
			t.Errorf("heads %q: want each side's time labelled as the CPU's", heads)
		}
	})
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bytesToInts(b []byte) []int {
	out := make([]int, len(b))
	for i, v := range b {
		out[i] = int(v)
	}
	return out
}

// upscaleNearest scales an n×n RGBA picture to s×s by nearest neighbour.
func upscaleNearest(px []byte, n, s int) []byte {
	out := make([]byte, 0, s*s*4)
	for y := range s {
		for x := range s {
			o := ((y*n/s)*n + x*n/s) * 4
			out = append(out, px[o:o+4]...)
		}
	}
	return out
}

func writeRGBA(t testing.TB, path string, px []byte, s int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	copy(img.Pix, px)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
