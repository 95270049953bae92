package e2e

// TestEmbed drives the embed API as a host page would: every event and
// command of the postMessage protocol (wasm/doc.go), request ids, errors
// that name the option, novae:stop and novae:image (whose PNG is compared
// with `novae sample`), the minimal controls in the snippet's own 512×360
// frame, the snippet's parameters, and the page's download button.
// TestSite publishes the page with scripts/site.sh (what `make site` runs),
// serves the directory from a sub-path with a plain static file server and
// generates there, and checks the encodings the wasm is served in.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// event is a message the frame posted to its host.
type event map[string]any

func (e event) str(k string) string { s, _ := e[k].(string); return s }
func (e event) num(k string) float64 {
	f, _ := e[k].(float64)
	return f
}

// embedHost is the host page: one frame, every message it posts kept in
// window.events, and send(m) to post a command.
const embedHost = `<!doctype html><meta charset="utf-8"><title>embed host</title>
<iframe id="f" src="%s" width="512" height="360" style="border:0"></iframe>
<script>
window.events = [];
addEventListener("message", (e) => { if (e.source === document.getElementById("f").contentWindow) window.events.push(e.data); });
window.send = (m) => (document.getElementById("f").contentWindow.postMessage(m, "*"), true);
</script>`

// waitEvent waits for the first event matching the JS condition on e.
func waitEvent(t testing.TB, ctx context.Context, cond string, timeout time.Duration) event {
	t.Helper()
	ev, err := chromedp.Run(ctx, chromedp.Poll[event](`window.events.find((e) => `+cond+`) ?? false`,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		shot(t, ctx, "embed-timeout")
		t.Fatalf("waiting for an event with %s: %v\nevents: %v", cond, err, eval[any](t, ctx, `window.events.map((e) => e.type + " " + (e.id ?? "") + " " + (e.message ?? ""))`))
	}
	return ev
}

func events(t testing.TB, ctx context.Context, cond string) []event {
	t.Helper()
	return eval[[]event](t, ctx, `window.events.filter((e) => `+cond+`)`)
}

func send(t testing.TB, ctx context.Context, m any) {
	t.Helper()
	eval[bool](t, ctx, `window.send(`+mustJSON(m)+`)`)
}

// types lists the event types of one request, in order.
func types(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.str("type"))
	}
	return out
}

// dataURLPixels decodes a PNG data URL into RGBA bytes.
func dataURLPixels(t testing.TB, u string) (int, int, []byte) {
	t.Helper()
	b64, ok := strings.CutPrefix(u, "data:image/png;base64,")
	if !ok {
		t.Fatalf("not a PNG data URL: %.40q", u)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return pngPixels(t, raw)
}

func pngPixels(t testing.TB, raw []byte) (int, int, []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(raw))
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
	return b.Dx(), b.Dy(), px
}

// crop cuts the w×h RGBA square at (x0, y0) from a W-wide image.
func crop(px []byte, W, x0, y0, s int) []byte {
	var out []byte
	for y := range s {
		o := ((y0+y)*W + x0) * 4
		out = append(out, px[o:o+s*4]...)
	}
	return out
}

func TestEmbed(t *testing.T) {
	requireBrowser(t)
	s := build(t)
	const long = 4 * time.Minute
	ctx := browser(t, true)
	// webgpu=1: the WGSL path even on SwiftShader, where the page would pick
	// the CPU path (its step times were the ones missing in view=final).
	writePage(t, s, "embed-host.html", fmt.Sprintf(embedHost, "index.html?controls=minimal&autoplay=0&webgpu=1&steps=1&class=1&seed=3"))
	navigate(t, ctx, s.url+"embed-host.html")
	const frame = `document.getElementById("f").contentDocument`
	ready := waitEvent(t, ctx, `e.type === "novae:ready"`, long)
	if ready.num("classes") != 10 || ready.str("backend") != "webgpu" {
		t.Errorf("novae:ready %v", ready)
	}
	if len(events(t, ctx, `e.type === "novae:progress"`)) == 0 {
		t.Error("no novae:progress before novae:ready")
	}

	t.Run("invalid options", func(t *testing.T) {
		// Each command is refused whole, with an error that names the option
		// and echoes the command's id; nothing runs and no setting changes.
		before := eval[map[string]string](t, ctx, `Object.fromEntries(["class", "seed", "steps", "cfg", "shift", "view", "grid"].map((k) => [k, `+frame+`.getElementById(k).value]))`)
		for i, c := range []struct {
			options any
			option  string
			says    string
		}{
			{map[string]any{"class": 10}, "", ""}, // unconditional: valid (checked below, not run here)
			{map[string]any{"class": 11}, "class", "not a class of this model (0–9, 10 for unconditional"},
			{map[string]any{"class": 99, "steps": 2}, "class", "not a class"},
			{map[string]any{"class": "cat"}, "class", "not a class"},
			{map[string]any{"steps": 0}, "steps", "out of range (1–50)"},
			{map[string]any{"steps": 2.5}, "steps", "not a whole number"},
			{map[string]any{"steps": "4"}, "steps", "not a number"},
			{map[string]any{"cfg": 50}, "cfg", "out of range (1–10)"},
			{map[string]any{"cfg": "NaN"}, "cfg", "not a number"},
			{map[string]any{"seed": -5}, "seed", "out of range"},
			{map[string]any{"seed": 1.5}, "seed", "not a whole number"},
			{map[string]any{"sampler": "ddim"}, "sampler", "neither euler nor heun"},
			{map[string]any{"view": "<img>"}, "view", "not one of both, x0, xt, v, final"},
			{map[string]any{"grid": 99}, "grid", "out of range (1–16)"},
			{map[string]any{"schedule": "cubic"}, "schedule", "not a schedule"},
			{map[string]any{"shift": 0}, "shift", "out of range"},
			{[]int{1}, "options", "must be an object"},
			{map[string]any{"steps": 0, "sampler": "x", "class": 1}, "steps", "sampler"}, // every bad one is named
		} {
			if c.option == "" {
				continue
			}
			id := fmt.Sprintf("bad-%d", i)
			send(t, ctx, map[string]any{"type": "novae:generate", "id": id, "options": c.options})
			e := waitEvent(t, ctx, `e.id === "`+id+`"`, time.Minute)
			if e.str("type") != "novae:error" || e.str("option") != c.option || e.str("op") != "generate" || !strings.Contains(e.str("message"), c.says) {
				t.Errorf("options %v: %v, want novae:error naming %q, saying %q", c.options, e, c.option, c.says)
			}
		}
		if o, _ := events(t, ctx, `e.id === "bad-17"`)[0]["options"].([]any); len(o) != 2 || o[0] != "steps" || o[1] != "sampler" {
			t.Errorf("the error for two bad options lists %v", o)
		}
		// A number id is echoed as a number; an unknown command is an error.
		send(t, ctx, map[string]any{"type": "novae:fly", "id": 42})
		if e := waitEvent(t, ctx, `e.id === 42`, time.Minute); e.str("type") != "novae:error" || !strings.Contains(e.str("message"), "unknown command") {
			t.Errorf("unknown command: %v", e)
		}
		after := eval[map[string]string](t, ctx, `Object.fromEntries(["class", "seed", "steps", "cfg", "shift", "view", "grid"].map((k) => [k, `+frame+`.getElementById(k).value]))`)
		if mustJSON(after) != mustJSON(before) {
			t.Errorf("refused commands changed the settings: %v → %v", before, after)
		}
		if n := len(events(t, ctx, `e.type === "novae:started"`)); n != 0 {
			t.Errorf("%d runs started from refused commands", n)
		}
		// Before a run, there is no picture to give.
		send(t, ctx, map[string]any{"type": "novae:image", "id": "img-0"})
		if e := waitEvent(t, ctx, `e.id === "img-0"`, time.Minute); e.str("type") != "novae:error" || e.str("op") != "image" {
			t.Errorf("novae:image before any run: %v", e)
		}
	})

	t.Run("generate and image", func(t *testing.T) {
		// One run with an id: started, a step event per step (each with its
		// own time, also in view=final), done; then its picture.
		send(t, ctx, map[string]any{"type": "novae:generate", "id": "run-1", "options": map[string]any{
			"class": 1, "seed": 5, "steps": 2, "cfg": 2.5, "shift": 0.3, "sampler": "euler", "schedule": "constant", "view": "final", "junk": "<b>ignored</b>"}})
		waitEvent(t, ctx, `e.id === "run-1" && (e.type === "novae:done" || e.type === "novae:error")`, long)
		run := events(t, ctx, `e.id === "run-1"`)
		if got := strings.Join(types(run), " "); got != "novae:started novae:step novae:step novae:done" {
			t.Fatalf("run-1's events: %s (%v)", got, run)
		}
		st := run[0]
		if st.num("seed") != 5 || st.num("class") != 1 || st.num("steps") != 2 || st.num("cfg") != 2.5 || st.str("view") != "final" || st.str("sampler") != "euler" {
			t.Errorf("novae:started %v", st)
		}
		for _, e := range run[1:3] {
			if !(e.num("ms") > 0) || e.num("n") != 2 {
				t.Errorf("step event without its time: %v", e)
			}
		}
		if d := run[3]; !(d.num("ms") > 0) || d.num("steps") != 2 {
			t.Errorf("novae:done %v", d)
		}
		send(t, ctx, map[string]any{"type": "novae:image", "id": "img-1"})
		img := waitEvent(t, ctx, `e.id === "img-1"`, time.Minute)
		if img.str("type") != "novae:image" || img.str("of") != "run-1" || img.num("images") != 1 {
			t.Fatalf("novae:image %v", img)
		}
		w, h, px := dataURLPixels(t, img.str("dataURL"))
		if w != 8 || h != 8 || img.num("width") != 8 {
			t.Fatalf("the image is %d×%d (event says %v×%v), want the model's 8×8", w, h, img["width"], img["height"])
		}
		compare(t, "novae:image vs novae sample", px, s.sampleCLI(t, false, 1, 5, 2, "euler", 2.5, 0.3), maxLevels, meanLevels)
		inner := `document.getElementById("f").contentWindow.document.querySelector("#viewbox iframe").contentWindow.novae`
		compare(t, "novae:image vs the canvas's frame", px, getPixels(t, ctx, inner).tile(0, "x0"), 0, 0)

		// Without an id: one is made, the same on every event of the run. A
		// grid of two in the "both" view: the image holds each once.
		send(t, ctx, map[string]any{"type": "novae:generate", "options": map[string]any{
			"class": 2, "seed": 8, "steps": 1, "cfg": 3, "shift": 0.3, "schedule": "constant", "view": "both", "grid": 2}})
		done := waitEvent(t, ctx, `e.type === "novae:done" && e.id !== "run-1"`, long)
		id := done.str("id")
		if !regexp.MustCompile(`^novae-\d+$`).MatchString(id) {
			t.Errorf("a made-up id %q", id)
		}
		if got := strings.Join(types(events(t, ctx, `e.id === "`+id+`"`)), " "); got != "novae:started novae:step novae:done" {
			t.Errorf("%s's events: %s", id, got)
		}
		send(t, ctx, map[string]any{"type": "novae:image", "id": "img-2"})
		img = waitEvent(t, ctx, `e.id === "img-2"`, time.Minute)
		if img.str("of") != id || img.num("images") != 2 || img.num("cols") != 2 || img.num("size") != 8 {
			t.Fatalf("novae:image of a grid: %v", img)
		}
		w, _, px = dataURLPixels(t, img.str("dataURL"))
		gap := (w - 16)
		for i := range 2 {
			compare(t, fmt.Sprintf("grid image %d vs novae sample", i), crop(px, w, i*(8+gap), 0, 8), s.sampleCLI(t, false, 2, uint64(8+i), 1, "euler", 3, 0.3), maxLevels, meanLevels)
		}
	})

	t.Run("stop and replace", func(t *testing.T) {
		// novae:stop: the running command answers novae:canceled with its id.
		// Both messages are posted in one go, so the stop lands within the
		// run's first steps, never after its 50th (messages arrive in order,
		// and the frame handles each before the next).
		eval[bool](t, ctx, `window.send({type: "novae:generate", id: "long", options: {steps: 50, view: "both", seed: 1}}) && window.send({type: "novae:stop"})`)
		c := waitEvent(t, ctx, `e.id === "long" && e.type !== "novae:step" && e.type !== "novae:started"`, long)
		if c.str("type") != "novae:canceled" || !(c.num("steps") >= 0 && c.num("steps") < 50) {
			t.Errorf("after novae:stop: %v", c)
		}
		// The picture of a stopped run is not given out as finished.
		if len(events(t, ctx, `e.id === "long" && e.type === "novae:started"`)) == 1 {
			send(t, ctx, map[string]any{"type": "novae:image", "id": "img-3"})
			if e := waitEvent(t, ctx, `e.id === "img-3"`, time.Minute); e.str("type") != "novae:error" {
				t.Errorf("novae:image after a stopped run: %v", e)
			}
		}
		// A second command replaces the first: the first is canceled, the
		// second runs to its end.
		eval[bool](t, ctx, `window.send({type: "novae:generate", id: "first", options: {steps: 50, seed: 2}}) && window.send({type: "novae:generate", id: "second", options: {steps: 1, seed: 3, class: 10}})`)
		waitEvent(t, ctx, `e.id === "second" && e.type === "novae:done"`, long)
		first := events(t, ctx, `e.id === "first"`)
		if tt := types(first); len(tt) == 0 || tt[len(tt)-1] != "novae:canceled" || strings.Contains(strings.Join(tt, " "), "done") {
			t.Errorf("the replaced command's events: %v", tt)
		}
		if st := events(t, ctx, `e.id === "second" && e.type === "novae:started"`); len(st) != 1 || st[0].num("class") != 10 {
			t.Errorf("the second command's start: %v", st)
		}
		// Every event of a run carries an id.
		if bad := events(t, ctx, `["novae:started", "novae:step", "novae:done", "novae:canceled", "novae:image"].includes(e.type) && e.id === undefined`); len(bad) > 0 {
			t.Errorf("events without an id: %v", bad)
		}
	})

	t.Run("minimal fits its frame", func(t *testing.T) {
		// The snippet's own 512×360 frame: no scrolling either way, one status
		// line, the buttons on one row, the picture (x_t | x̂₀ of one image:
		// 2:1) the frame's full width, and no jargon.
		send(t, ctx, map[string]any{"type": "novae:generate", "id": "fit", "options": map[string]any{"grid": 1, "view": "both", "steps": 1}})
		waitEvent(t, ctx, `e.id === "fit" && e.type === "novae:done"`, long)
		type fit struct {
			SW, SH, CW, CH  int
			StatusH, LineH  float64
			ButtonTops      []float64
			Text            string
			ViewH, ViewW    float64
			StatusBottom    float64
			ButtonsBottom   float64
			StatusOverflows bool
		}
		f := eval[fit](t, ctx, `(() => { const d = `+frame+`, w = d.defaultView, s = d.getElementById("status");
			const lh = parseFloat(w.getComputedStyle(s).lineHeight) || parseFloat(w.getComputedStyle(s).fontSize) * 1.45;
			const v = d.getElementById("viewbox").getBoundingClientRect();
			const bs = [...d.querySelectorAll("button")].filter((b) => b.offsetParent !== null);
			return {sw: d.documentElement.scrollWidth, sh: d.documentElement.scrollHeight, cw: d.documentElement.clientWidth, ch: d.documentElement.clientHeight,
				statusH: s.getBoundingClientRect().height, lineH: lh, buttonTops: bs.map((b) => b.getBoundingClientRect().top),
				text: d.body.innerText, viewH: v.height, viewW: v.width, statusBottom: s.getBoundingClientRect().bottom,
				buttonsBottom: Math.max(...bs.map((b) => b.getBoundingClientRect().bottom)), statusOverflows: s.scrollWidth > s.clientWidth}; })()`)
		t.Logf("minimal in 512×360: document %d×%d in %d×%d, picture %.0f×%.0f, status %.1f px high (line %.1f), buttons at %v, text %q",
			f.SW, f.SH, f.CW, f.CH, f.ViewW, f.ViewH, f.StatusH, f.LineH, f.ButtonTops, f.Text)
		if f.CW != 512 || f.CH != 360 || f.SW > f.CW || f.SH > f.CH {
			t.Errorf("the minimal page scrolls in its frame: document %d×%d, frame %d×%d", f.SW, f.SH, f.CW, f.CH)
		}
		if f.StatusH > 1.5*f.LineH {
			t.Errorf("the status wraps: %.1f px for a %.1f px line", f.StatusH, f.LineH)
		}
		if len(f.ButtonTops) < 2 {
			t.Errorf("minimal shows %d buttons", len(f.ButtonTops))
		}
		for _, y := range f.ButtonTops {
			if y != f.ButtonTops[0] {
				t.Errorf("the buttons wrap onto two rows: tops %v", f.ButtonTops)
				break
			}
		}
		if f.ButtonsBottom > float64(f.CH) || f.StatusBottom > float64(f.CH) || f.ViewW < 510 || f.ViewH < 230 {
			t.Errorf("something is cut off: buttons end at %.0f, status at %.0f, picture %.0f px high", f.ButtonsBottom, f.StatusBottom, f.ViewH)
		}
		for _, jargon := range []string{"dispatch", "x̂", "t = ", "shard", "CFG"} {
			if strings.Contains(f.Text, jargon) {
				t.Errorf("minimal mode shows %q: %q", jargon, f.Text)
			}
		}
		shot(t, ctx, "embed-minimal-512x360")
	})

	t.Run("snippet", func(t *testing.T) {
		// The full page's snippet names every setting, and opening its URL
		// gives the same settings.
		navigate(t, ctx, s.url+"?autoplay=0&class=3&seed=12&steps=3&cfg=2.5&shift=0.5&sampler=heun&schedule=linear&view=x0&grid=4")
		waitReady(t, ctx, long)
		sn := eval[string](t, ctx, `document.getElementById("snippet").textContent`)
		m := regexp.MustCompile(`^<iframe src="([^"]+)" title="[^"]+" width="512" height="360"`).FindStringSubmatch(sn)
		if m == nil {
			t.Fatalf("snippet %q", sn)
		}
		u, err := url.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"class": "3", "seed": "12", "steps": "3", "cfg": "2.5", "shift": "0.5", "sampler": "heun",
			"schedule": "linear", "view": "x0", "grid": "4", "autoplay": "1", "controls": "minimal"}
		for k, v := range want {
			if got := u.Query().Get(k); got != v {
				t.Errorf("snippet %s=%q, want %q (%s)", k, got, v, u)
			}
		}
		settings := `Object.fromEntries(["class", "seed", "steps", "cfg", "shift", "schedule", "view", "grid"].map((k) => [k, document.getElementById(k).value]))`
		here := eval[map[string]string](t, ctx, settings)
		navigate(t, ctx, u.String())
		waitDone(t, ctx, "document", 1, long) // autoplay=1
		if there := eval[map[string]string](t, ctx, settings); mustJSON(there) != mustJSON(here) {
			t.Errorf("the snippet's URL gives %v, the page had %v", there, here)
		}
	})

	t.Run("download", func(t *testing.T) {
		// The page's own download button saves the finished picture as a PNG.
		dir, yes := t.TempDir(), true
		if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
			return cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes})
		}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		name, done := "", make(chan string, 1)
		listen := func(ev any) {
			switch ev := ev.(type) {
			case *cdpbrowser.EventDownloadWillBegin:
				mu.Lock()
				name = ev.SuggestedFilename
				mu.Unlock()
			case *cdpbrowser.EventDownloadProgress:
				if ev.State == cdpbrowser.DownloadProgressStateCompleted {
					select {
					case done <- ev.GUID:
					default:
					}
				}
			}
		}
		chromedp.ListenBrowser(ctx, listen) // the events come to the session that asked for them
		chromedp.Listen(ctx, listen)
		navigate(t, ctx, s.url+"?autoplay=1&class=4&seed=6&steps=2&cfg=2&shift=0.3&sampler=euler&schedule=constant&view=both")
		waitDone(t, ctx, "document", 1, long)
		if eval[bool](t, ctx, `document.getElementById("download").disabled`) {
			t.Fatal("the download button is disabled after a finished run")
		}
		eval[bool](t, ctx, `(document.getElementById("download").click(), true)`)
		var guid string
		select {
		case guid = <-done:
		case <-time.After(time.Minute):
			t.Fatal("no download completed")
		}
		raw, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if !regexp.MustCompile(`^novae-[a-z0-9_-]+-class4-seed6\.png$`).MatchString(name) {
			t.Errorf("suggested file name %q", name)
		}
		mu.Unlock()
		w, h, px := pngPixels(t, raw)
		if w != 8 || h != 8 {
			t.Fatalf("downloaded %d×%d, want 8×8", w, h)
		}
		compare(t, "the downloaded PNG vs novae sample", px, s.sampleCLI(t, false, 4, 6, 2, "euler", 2, 0.3), maxLevels, meanLevels)
	})

	t.Run("url class", func(t *testing.T) {
		// A class the model lacks in the frame's URL is not taken as
		// "unconditional": it is ignored and the host hears why.
		writePage(t, s, "embed-host-99.html", fmt.Sprintf(embedHost, "index.html?controls=minimal&autoplay=0&class=99"))
		navigate(t, ctx, s.url+"embed-host-99.html")
		e := waitEvent(t, ctx, `e.type === "novae:error"`, long)
		if e.str("type") != "novae:error" || e.str("option") != "class" || e.str("op") != "url" || !strings.Contains(e.str("message"), "class 99 is not a class") {
			t.Errorf("class=99 in the URL: %v", e)
		}
		waitEvent(t, ctx, `e.type === "novae:ready"`, long)
		if v := eval[string](t, ctx, frame+`.getElementById("class").value`); v == "10" {
			t.Error("class=99 in the URL became unconditional")
		}
	})
}

// staticHost serves dir under prefix as a plain static host does: files
// only, the MIME type by extension (application/wasm for .wasm), and a
// pre-compressed name.br or name.gz when the request accepts it (as nginx's
// brotli_static/gzip_static or Caddy's precompressed do). Nothing of
// tools/serve. It logs every path it is asked for.
type staticHost struct {
	dir, prefix string
	mu          sync.Mutex
	log         []string // "path encoding"
}

func (h *staticHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	enc := ""
	defer func() {
		h.mu.Lock()
		h.log = append(h.log, r.URL.Path+" "+enc)
		h.mu.Unlock()
	}()
	rel, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(rel, "/") || rel == "" {
		rel += "index.html"
	}
	p := filepath.Join(h.dir, filepath.FromSlash(path.Clean("/"+rel)))
	accept := r.Header.Get("Accept-Encoding")
	for _, c := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !strings.Contains(accept, c.token) {
			continue
		}
		f, err := os.Open(p + c.ext)
		if err != nil {
			continue
		}
		defer f.Close()
		st, _ := f.Stat()
		enc = c.token
		w.Header().Set("Content-Type", mime.TypeByExtension(filepath.Ext(p)))
		w.Header().Set("Content-Encoding", c.token)
		w.Header().Set("Vary", "Accept-Encoding")
		http.ServeContent(w, r, "", st.ModTime(), f)
		return
	}
	http.StripPrefix(strings.TrimSuffix(h.prefix, "/"), http.FileServer(http.Dir(h.dir))).ServeHTTP(w, r)
}

// fetchAs gets u with the given Accept-Encoding and returns the encoding
// it came in, its bytes on the wire and decoded.
func fetchAs(t testing.TB, u, accept string) (string, int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wire, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
		t.Errorf("GET %s (Accept-Encoding %q): Content-Type %q, want application/wasm", u, accept, ct)
	}
	enc := resp.Header.Get("Content-Encoding")
	var plain []byte
	switch enc {
	case "br":
		plain, err = io.ReadAll(brotli.NewReader(bytes.NewReader(wire)))
	case "gzip":
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(wire)); err == nil {
			plain, err = io.ReadAll(zr)
		}
	case "":
		plain = wire
	default:
		t.Fatalf("GET %s: Content-Encoding %q", u, enc)
	}
	if err != nil {
		t.Fatalf("GET %s as %s: %v", u, enc, err)
	}
	return enc, len(wire), plain
}

func TestSite(t *testing.T) {
	requireBrowser(t)
	s := build(t)
	const long = 4 * time.Minute
	out := filepath.Join(t.TempDir(), "site")
	// What `make site` runs, with the wasm the suite already built and a
	// quicker brotli (quality 9 instead of 11: the same format).
	log := run(t, repoRoot, []string{"NOVAE_WASM=" + filepath.Join(s.dir, "novae.wasm"), "BROTLI=9"}, "bash", "scripts/site.sh", out)
	t.Log(log)
	for _, f := range []string{"index.html", "app.js", "app.css", "view.html", "view.js", "weights.js", "sw.js", "wasm_exec.js",
		"novae.wasm", "novae.wasm.br", "novae.wasm.gz", "models/index.json", "models/default/model.json", "models/digits/model.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the site lacks %s", f)
		}
	}
	var idx struct {
		Default string
		Models  []string
	}
	if b, err := os.ReadFile(filepath.Join(out, "models", "index.json")); err != nil || json.Unmarshal(b, &idx) != nil || idx.Default != "digits" || len(idx.Models) < 1 {
		t.Fatalf("models/index.json: %s %v", b, err)
	}

	// A plain static host, the site under /novae/.
	host := &staticHost{dir: out, prefix: "/novae/"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: host}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String() + "/novae/"

	t.Run("encodings", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(out, "novae.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		// The plain static host and tools/serve on the same directory.
		serve := &site{dir: out, serve: s.serve, requests: &counter{n: map[string]int{}}}
		if err := serve.startE("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer serve.stop()
		var lines []string
		for _, srv := range []struct{ name, url string }{{"static host", base + "novae.wasm"}, {"tools/serve", serve.url + "novae.wasm"}} {
			for _, c := range []struct{ accept, want string }{
				{"gzip, deflate, br, zstd", "br"}, {"br", "br"}, {"gzip", "gzip"}, {"", ""},
			} {
				enc, n, plain := fetchAs(t, srv.url, c.accept)
				if enc != c.want {
					t.Errorf("%s, Accept-Encoding %q: %q, want %q", srv.name, c.accept, enc, c.want)
				}
				if !bytes.Equal(plain, raw) {
					t.Errorf("%s, %q: %d bytes decode to something else than novae.wasm (%d bytes)", srv.name, enc, len(plain), len(raw))
				}
				if srv.name == "tools/serve" && c.accept != "br" {
					lines = append(lines, fmt.Sprintf("novae.wasm as %-8s %9d bytes (Accept-Encoding %q)", or(enc, "identity"), n, c.accept))
				}
			}
		}
		t.Logf("served by tools/serve (brotli quality 9 here; make site uses 11):\n%s", strings.Join(lines, "\n"))
		os.MkdirAll(outDir, 0o755)
		os.WriteFile(filepath.Join(outDir, "encodings.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	})

	t.Run("generate from a sub-path", func(t *testing.T) {
		ctx := browser(t, true)
		navigate(t, ctx, base+"?autoplay=1&class=3&seed=2&steps=1&cfg=2&shift=0.3&sampler=euler&schedule=constant&view=final")
		st := waitDone(t, ctx, "document", 1, long)
		t.Logf("from %s: %s", base, st.Text)
		p := getPixels(t, ctx, viewJS)
		manifest := filepath.Join(out, "models", "default", "model.json")
		ref := filepath.Join(t.TempDir(), "ref.png")
		run(t, repoRoot, nil, s.novae, "sample", "-weights", manifest, "-class", "3", "-seed", "2", "-steps", "1", "-sampler", "euler",
			"-cfg", "2", "-shift", "0.3", "-schedule", "constant", "-out", ref, "-q")
		b, err := os.ReadFile(ref)
		if err != nil {
			t.Fatal(err)
		}
		_, _, want := pngPixels(t, b)
		compare(t, "the published page (digits, from /novae/) vs novae sample", p.tile(0, "x0"), want, maxLevels, meanLevels)
		// Every request stayed under the sub-path, and the service worker
		// came up there.
		host.mu.Lock()
		reqs := append([]string(nil), host.log...)
		host.mu.Unlock()
		wasm := ""
		for _, r := range reqs {
			if !strings.HasPrefix(r, "/novae/") {
				t.Errorf("a request outside the sub-path: %s", r)
			}
			if strings.HasPrefix(r, "/novae/novae.wasm") {
				wasm = r
			}
		}
		t.Logf("Chromium fetched %s", wasm)
		if wasm == "" {
			t.Error("the static host never served novae.wasm")
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.novaeStats.sw === "ready"`, chromedp.WithPollingTimeout(time.Minute))); err != nil {
			t.Errorf("the service worker: %q", eval[string](t, ctx, `window.novaeStats.sw`))
		}
		if scope, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.serviceWorker.getRegistration().then((r) => r?.scope ?? "")`, chromedp.EvalAwaitPromise)); err != nil || scope != base {
			t.Errorf("service worker scope %q, want %q", scope, base)
		}
		shot(t, ctx, "site-subpath")
	})
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
