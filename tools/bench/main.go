//go:build !js

// Command bench prints per-kernel figures for novae's WGSL kernels at
// SVG-XL's shapes: a header (date, adapter, backend, limits, Go, timing
// method), then one line per kernel and shape with milliseconds per run and
// GFLOP/s (GB/s for memory-bound lines), then whole-network lines (the
// SVG-XL CFG step, decoder and samples, and the small default models) in
// TFLOP/s with dispatch counts (network.go). -kernel walks the matmul ladder
// (shaders/matmul_reg.go). `make bench` runs it here; `make bench-binary`
// builds build/novae-bench for a GPU machine without Go, and gpu.sh runs it
// there beside tools/torchbench (tools/bench/README.md).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"

	"novae/shaders"
)

const (
	reps     = 3    // timed batches per line; the best is reported
	maxIters = 1000 // runs per batch at most
)

// Result is one line of -json output. MS is by Method (GPU timestamps or
// wall clock); WallMS is always the wall time per run of a batch: recording,
// submit and the closing sync included, so it shows CPU overhead too.
type Result struct {
	Kernel  string `json:"kernel"`
	Shape   string `json:"shape"`
	Note    string `json:"note,omitempty"`
	Variant string `json:"variant,omitempty"` // matmul ladder name the line ran under
	Plan    string `json:"plan,omitempty"`    // the matmul plan it made (matmul lines)
	// Dispatches per run, and per sampler step for sample lines (decode
	// excluded).
	Dispatches     int     `json:"dispatches,omitempty"`
	DispatchesStep float64 `json:"dispatches_per_step,omitempty"`
	Tuned          []Tuned `json:"tuned,omitempty"` // -kernel tune: every candidate, fastest first
	Iters          int     `json:"iters"`
	MS             float64 `json:"ms"`
	GPUMS          float64 `json:"gpu_ms,omitempty"`
	WallMS         float64 `json:"wall_ms"`
	FLOP           float64 `json:"flop"`
	Bytes          float64 `json:"bytes"`
	GFLOPS         float64 `json:"gflop_s"`
	GBS            float64 `json:"gb_s"`
	Error          string  `json:"error,omitempty"`
}

// Tuned is one plan measured by -kernel tune.
type Tuned struct {
	Plan string  `json:"plan"`
	MS   float64 `json:"ms"`
}

// Report is the -json file.
type Report struct {
	Date    string         `json:"date"`
	Adapter string         `json:"adapter"`
	Backend string         `json:"backend"`
	Limits  shaders.Limits `json:"limits"`
	Go      string         `json:"go"`
	Method  string         `json:"method"`
	Small   bool           `json:"small"`
	Results []Result       `json:"results"`
}

func main() {
	filter := flag.String("filter", "", "run only lines whose `REGEX` matches \"kernel shape note\"")
	iters := flag.Int("iters", 0, "runs per timed batch (0: grown until a batch takes ~50 ms, 100 ms on a CPU adapter; at most 1000)")
	small := flag.Bool("small", false, "shrunk shapes (default on a CPU adapter; -small=false forces SVG-XL's)")
	jsonOut := flag.String("json", "", "also write the results to `FILE` as JSON")
	list := flag.Bool("list", false, "list the lines (kernel, shape) and exit without a device")
	wall := flag.Bool("wall", false, "time with the wall clock even where timestamp queries exist")
	kernels := flag.String("kernel", "auto", "matmul variant(s) for the matmul and network lines, one line per variant: `NAMES` comma-separated; \"ladder\" stands for "+
		strings.Join(shaders.MatMulLadder, ", ")+"; \"tune\" measures every candidate plan per shape and keeps the fastest")
	nets := flag.Bool("net", true, "include the whole-network lines (DiT CFG step, decoder, samples)")
	flag.Parse()
	smallSet := false
	flag.Visit(func(f *flag.Flag) { smallSet = smallSet || f.Name == "small" })

	re, err := regexp.Compile(*filter)
	if err != nil {
		fatal(fmt.Errorf("-filter: %w", err))
	}
	var variants []string
	for _, v := range strings.Split(*kernels, ",") {
		if v == "ladder" {
			variants = append(variants, shaders.MatMulLadder...)
		} else {
			variants = append(variants, v)
		}
	}
	selected := func(small bool) []bench {
		all := cases(small)
		if *nets {
			all = append(all, networks(small)...)
		}
		var out []bench
		for _, b := range all {
			if !re.MatchString(b.Kernel + " " + b.Shape + " " + b.Note) {
				continue
			}
			if b.M == 0 && !b.Net { // not a matmul: the variant does not matter
				out = append(out, b)
				continue
			}
			for _, v := range variants {
				b.Variant = v
				out = append(out, b)
			}
		}
		return out
	}
	if *list {
		for _, b := range selected(*small) {
			fmt.Printf("%-16s %-28s %s [%s]\n", b.Kernel, b.Shape, b.Note, b.Variant)
		}
		return
	}

	eng, err := shaders.New(shaders.Options{})
	if err != nil {
		fatal(err)
	}
	defaultVariant := eng.MatMulVariant() // $NOVAE_MATMUL or auto, before the checks below set others
	for _, v := range variants {
		if err := eng.SetMatMul(v); err != nil {
			fatal(fmt.Errorf("-kernel: %w", err))
		}
	}
	cpu := strings.Contains(eng.Adapter, "[cpu,")
	if !smallSet {
		*small = cpu
	}
	method := "GPU timestamps (timestamp-query), best of 3 batches"
	useGPU := eng.HasTimestamps() && !*wall
	switch {
	case *wall:
		method = "wall clock after warm-up (-wall), Sync after each batch, best of 3 batches"
	case !useGPU:
		method = "wall clock after warm-up (device has no timestamp-query), Sync after each batch, best of 3 batches"
	}
	rep := Report{Date: time.Now().UTC().Format("2006-01-02 15:04:05 UTC"), Adapter: eng.Adapter,
		Backend: eng.Backend, Limits: eng.Limits, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Method: method, Small: *small}

	l := eng.Limits
	fmt.Printf("novae bench   %s\n", rep.Date)
	fmt.Printf("adapter       %s\n", rep.Adapter)
	fmt.Printf("backend       %s\n", rep.Backend)
	fmt.Printf("limits        binding %s, buffer %s, workgroup storage %d KiB, %d invocations, %d workgroups/dim, %d storage buffers (device, as requested)\n",
		mib(l.MaxBinding), mib(l.MaxBuffer), l.MaxWGStorage>>10, l.MaxInvocations, l.MaxWGPerDim, l.MaxStorageBufs)
	fmt.Printf("go            %s\n", rep.Go)
	fmt.Printf("timing        %s; ms = per run; wall = batch wall time per run (record + submit + sync)\n", method)
	if *small {
		why := "-small"
		if !smallSet {
			why = "CPU adapter; -small=false for full shapes"
		}
		fmt.Printf("shapes        SHRUNK (%s): not SVG-XL's real shapes\n", why)
	} else {
		fmt.Printf("shapes        SVG-XL's real shapes\n")
	}
	fmt.Println()
	fmt.Printf("matmul        -kernel %s (auto = PlanMatMul's choice per shape; the note shows the plan)\n", *kernels)
	fmt.Println()
	fmt.Printf("%-16s %-28s %10s %16s %10s %6s  %s\n", "kernel", "shape", "ms", "rate", "wall ms", "iters", "note")

	target := 50 * time.Millisecond
	if cpu {
		target = 100 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, b := range selected(*small) {
		if b.Variant == "" || b.Variant == "auto" {
			eng.SetMatMul(defaultVariant)
		} else {
			eng.SetMatMul(b.Variant)
		}
		it := *iters
		if b.Net && it == 0 {
			it = 1 // a network run is long enough to time alone
		}
		r := measure(eng, b, rng, it, target, useGPU)
		if b.Variant == "tune" && b.M > 0 {
			for i, t := range eng.TunedMatMul(b.M, b.N, b.K, b.WKind, b.Group, b.Acc) {
				r.Tuned = append(r.Tuned, Tuned{Plan: t.Plan.String(), MS: t.MS})
				if i == 0 {
					r.Plan = t.Plan.String()
				}
			}
		}
		rep.Results = append(rep.Results, r)
		printLine(os.Stdout, b, r)
		for i, t := range r.Tuned {
			if i == 4 {
				break
			}
			fmt.Printf("%-16s %-28s %10.4f %16s %10s %6s  tuned #%d: %s\n", "", "", t.MS, num(b.FLOP/(t.MS*1e6))+" GFLOP/s", "", "", i+1, t.Plan)
		}
	}
	printTargets(os.Stdout, rep.Results)
	if *jsonOut != "" {
		buf, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(buf, '\n'), 0o644); err != nil {
			fatal(err)
		}
	}
	failed := 0
	for _, r := range rep.Results {
		if r.Error != "" {
			failed++
		}
	}
	if failed > 0 { // a table with holes must not pass for a complete one in scripts
		fmt.Fprintf(os.Stderr, "novae-bench: %d of %d lines failed (see \"error:\" above)\n", failed, len(rep.Results))
		os.Exit(1)
	}
}

// measure warms b up (compiling its pipeline), picks the batch size unless
// iters is given, and returns the best of reps timed batches.
func measure(eng *shaders.Engine, b bench, rng *rand.Rand, iters int, target time.Duration, useGPU bool) (r Result) {
	r = Result{Kernel: b.Kernel, Shape: b.Shape, Note: b.Note, FLOP: b.FLOP, Bytes: b.Bytes, Variant: b.Variant}
	defer func() {
		if p := recover(); p != nil {
			r.Error = fmt.Sprint(p)
		}
	}()
	if b.M > 0 {
		r.Plan = eng.PlanMatMul(b.M, b.N, b.K).String()
	}
	run, free := b.setup(eng, rng)
	defer free()
	batch := func(n int, useGPU bool) (gpu, wall time.Duration, err error) {
		loop := func() {
			for range n {
				run()
			}
		}
		t0 := time.Now()
		if useGPU {
			gpu, err = eng.TimeGPU(loop)
		} else {
			loop()
			err = eng.Sync()
		}
		return gpu, time.Since(t0), err
	}
	d0 := eng.Dispatches
	if _, _, err := batch(1, false); err != nil { // compile, first touch (and -kernel tune's tuning)
		r.Error = err.Error()
		return r
	}
	r.Dispatches = eng.Dispatches - d0
	if b.Variant == "tune" { // the first run also dispatched the tuning: count a second one
		d0 = eng.Dispatches
		if _, _, err := batch(1, false); err != nil {
			r.Error = err.Error()
			return r
		}
		r.Dispatches = eng.Dispatches - d0
	}
	if b.Steps > 0 {
		r.DispatchesStep = stepDispatches
	}
	if iters <= 0 { // grow the batch until it takes about target (sync latency amortised)
		iters = 1
		for range 4 {
			_, took, err := batch(iters, useGPU)
			if err != nil {
				r.Error = err.Error()
				return r
			}
			if took >= target/2 || iters >= maxIters {
				break
			}
			iters = min(maxIters, max(2*iters, int(float64(iters)*float64(target)/float64(max(took, time.Microsecond)))))
		}
	}
	r.Iters = iters
	bestGPU, bestWall := time.Duration(1<<62), time.Duration(1<<62)
	for range reps {
		g, w, err := batch(iters, useGPU)
		if err != nil {
			r.Error = err.Error()
			return r
		}
		bestGPU, bestWall = min(bestGPU, g), min(bestWall, w)
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(iters) }
	r.WallMS, r.MS = per(bestWall), per(bestWall)
	if useGPU {
		r.GPUMS = per(bestGPU)
		r.MS = r.GPUMS
	}
	if r.MS > 0 {
		r.GFLOPS = b.FLOP / (r.MS * 1e6)
		r.GBS = b.Bytes / (r.MS * 1e6)
	}
	return r
}

func printLine(w io.Writer, b bench, r Result) {
	if r.Error != "" {
		fmt.Fprintf(w, "%-16s %-28s  error: %s\n", b.Kernel, b.Shape, r.Error)
		return
	}
	rate := num(r.GFLOPS) + " GFLOP/s"
	note := b.Note
	switch {
	case b.Kernel == "dispatch_tiny":
		rate = "-"
	case b.Net:
		rate = num(r.GFLOPS/1e3) + " TFLOP/s"
		if b.Mem {
			rate = num(r.GBS) + " GB/s"
		}
		note += fmt.Sprintf("; %d dispatches", r.Dispatches)
		if b.Steps > 0 {
			note += fmt.Sprintf(" (%.0f per sampler step)", r.DispatchesStep)
		}
	case b.Mem:
		rate = num(r.GBS) + " GB/s"
	}
	if r.Variant != "" && r.Variant != "auto" {
		note += " [-kernel " + r.Variant + "]"
	}
	if r.Plan != "" {
		note += " · " + r.Plan
	}
	fmt.Fprintf(w, "%-16s %-28s %10.4f %16s %10.4f %6d  %s\n", b.Kernel, b.Shape, r.MS, rate, r.WallMS, r.Iters, note)
}

// num prints a rate with three or more significant digits.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func mib(n uint64) string { return fmt.Sprintf("%d MiB", n>>20) }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
