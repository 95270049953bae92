package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkPage times the page's own readout (window.novaeStats.lastDone)
// for the shipped digits model in headless Chromium: WGSL on WebGPU
// (SwiftShader here) and the pure-Go path in the same wasm without WebGPU,
// in one run. The figure kept is their ratio, so the baseline means the
// same thing on a faster or slower machine; the dispatch count per step is
// exact. It fails when the WGSL path got slower than the recorded baseline
// (ratio over 1.3× the baseline's) or dispatches more.
//
//	make bench-page                       # compare with testdata/page_speed.json
//	make bench-page PAGEFLAGS=-update-page-speed   # record a new baseline
var updatePageSpeed = flag.Bool("update-page-speed", false, "write testdata/page_speed.json from this run")

const pageSpeedFile = "testdata/page_speed.json"

// pageSpeed is one run's figures (and the baseline's format).
type pageSpeed struct {
	Model             string  `json:"model"`
	URL               string  `json:"url"`
	Runs              int     `json:"runs"`
	Adapter           string  `json:"adapter"`
	WebGPUMsPerStep   float64 `json:"webgpu_ms_per_step"`
	WebGPUDecodeMs    float64 `json:"webgpu_decode_ms"`
	CPUMsPerStep      float64 `json:"cpu_ms_per_step"`
	CPUDecodeMs       float64 `json:"cpu_decode_ms"`
	StepRatio         float64 `json:"step_ratio"`   // WebGPU / CPU ms per step: lower is better
	DecodeRatio       float64 `json:"decode_ratio"` // WebGPU / CPU decode ms
	DispatchesPerStep int     `json:"dispatches_per_step"`
	Recorded          string  `json:"recorded"`
}

const pageSpeedTolerance = 1.3

func BenchmarkPage(b *testing.B) {
	requireBrowser(b)
	s := build(b)
	// The shipped digits model beside the site's test model.
	dst := filepath.Join(s.dir, "models", "digits")
	if _, err := os.Stat(dst); err != nil {
		run(b, repoRoot, nil, "cp", "-r", filepath.Join(repoRoot, "models", "digits"), dst)
	}
	const runs = 5
	query := "?webgpu=1&model=digits&class=3&seed=1&steps=4&cfg=4&shift=0.3&sampler=euler&schedule=constant&view=final&autoplay=1"
	res := pageSpeed{Model: "digits", URL: query, Runs: runs, Recorded: time.Now().UTC().Format("2006-01-02")}
	for _, webgpu := range []bool{true, false} {
		ctx := browser(b, webgpu)
		if err := chromedp.Do(ctx, chromedp.Navigate(s.url+query)); err != nil {
			b.Fatal(err)
		}
		st := waitDone(b, ctx, "document", 1, 5*time.Minute)
		want := map[bool]string{true: "webgpu", false: "cpu"}[webgpu]
		if st.Backend != want {
			b.Fatalf("backend %q, want %q (%s)", st.Backend, want, st.Text)
		}
		// The first run compiles pipelines; time the next ones (new seeds).
		var step, dec []float64
		disp := -1
		for i := 1; i <= runs; i++ {
			eval[string](b, ctx, setInput("seed", fmt.Sprint(1+i)))
			if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("seed")), chromedp.KeyEvent("\r")); err != nil {
				b.Fatal(err)
			}
			waitDone(b, ctx, "document", 1+i, 5*time.Minute)
			ps := eval[struct {
				LastDone struct {
					MsPerStep, DecodeMs float64
					DispatchesPerStep   int
				}
				Boot struct{ Adapter string }
			}](b, ctx, `window.novaeStats`)
			d := ps.LastDone
			if d.MsPerStep <= 0 || d.DecodeMs <= 0 {
				b.Fatalf("%s: the page's timing readout is empty: %+v", want, d)
			}
			step, dec = append(step, d.MsPerStep), append(dec, d.DecodeMs)
			switch {
			case webgpu && d.DispatchesPerStep <= 0:
				b.Fatalf("webgpu: no dispatch count in the readout")
			case webgpu && disp >= 0 && d.DispatchesPerStep != disp:
				b.Fatalf("webgpu: %d dispatches per step, %d in the run before", d.DispatchesPerStep, disp)
			case !webgpu && d.DispatchesPerStep != 0:
				b.Fatalf("cpu: %d dispatches per step reported", d.DispatchesPerStep)
			}
			disp = d.DispatchesPerStep
			if webgpu {
				res.Adapter = ps.Boot.Adapter
			}
		}
		if webgpu {
			res.WebGPUMsPerStep, res.WebGPUDecodeMs, res.DispatchesPerStep = median(step), median(dec), disp
		} else {
			res.CPUMsPerStep, res.CPUDecodeMs = median(step), median(dec)
		}
	}
	res.StepRatio = res.WebGPUMsPerStep / res.CPUMsPerStep
	res.DecodeRatio = res.WebGPUDecodeMs / res.CPUDecodeMs
	b.ReportMetric(res.WebGPUMsPerStep, "webgpu-ms/step")
	b.ReportMetric(res.CPUMsPerStep, "cpu-ms/step")
	b.ReportMetric(res.StepRatio, "step-ratio")
	b.ReportMetric(res.DecodeRatio, "decode-ratio")
	b.ReportMetric(float64(res.DispatchesPerStep), "dispatches/step")

	var base pageSpeed
	raw, err := os.ReadFile(pageSpeedFile)
	if err == nil {
		err = json.Unmarshal(raw, &base)
	}
	b.Logf("digits, 4 Euler steps, CFG 4, median of %d runs (headless Chromium):\n"+
		"  %-28s %10s %10s\n  %-28s %10.1f %10.1f\n  %-28s %10.1f %10.1f\n  %-28s %10.3f %10.3f\n  %-28s %10d %10d",
		runs, "", "this run", "baseline",
		"WebGPU ms/step ("+res.Adapter+")", res.WebGPUMsPerStep, base.WebGPUMsPerStep,
		"pure-Go (wasm) ms/step", res.CPUMsPerStep, base.CPUMsPerStep,
		"ratio WebGPU/CPU (step)", res.StepRatio, base.StepRatio,
		"dispatches per step", res.DispatchesPerStep, base.DispatchesPerStep)
	if *updatePageSpeed {
		out, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(pageSpeedFile, append(out, '\n'), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %s", pageSpeedFile)
		return
	}
	if err != nil {
		b.Fatalf("no baseline (%v): record one with -update-page-speed", err)
	}
	if res.DispatchesPerStep > base.DispatchesPerStep {
		b.Errorf("%d dispatches per step, the baseline has %d", res.DispatchesPerStep, base.DispatchesPerStep)
	}
	if res.StepRatio > pageSpeedTolerance*base.StepRatio {
		b.Errorf("the WGSL path got slower: WebGPU/CPU step ratio %.3f, baseline %.3f (tolerance %.1f×)",
			res.StepRatio, base.StepRatio, pageSpeedTolerance)
	}
	if res.DecodeRatio > pageSpeedTolerance*base.DecodeRatio {
		b.Errorf("the WGSL decoder got slower: WebGPU/CPU decode ratio %.3f, baseline %.3f (tolerance %.1f×)",
			res.DecodeRatio, base.DecodeRatio, pageSpeedTolerance)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
