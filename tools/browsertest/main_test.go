package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke builds ./smoke for GOOS=js and runs it in headless Chromium. It
// skips only when Chromium is missing and NOVAE_REQUIRE_BROWSER is unset
// (make test sets it, so CI cannot skip it silently).
func TestSmoke(t *testing.T) {
	if bin := chromiumPath(); os.Getenv("NOVAE_REQUIRE_BROWSER") == "" {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("no Chromium at %s: scripts/setup.sh installs it (NOVAE_REQUIRE_BROWSER=1 turns this skip into a failure)", bin)
		}
	}
	wasm := filepath.Join(t.TempDir(), "smoke.wasm")
	build := exec.Command("go", "test", "-c", "-o", wasm, "./smoke")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the smoke test: %v\n%s", err, out)
	}

	for _, c := range []struct {
		name     string
		noWebGPU bool
		code     int
		want     []string
	}{
		{"webgpu", false, 0, []string{"WebGPU adapter:", "--- PASS: TestBufferRoundTrip", "--- PASS: TestComputeKernel", "\nPASS\n"}},
		// Without WebGPU the smoke tests fail, which shows that a failing test fails the run.
		{"no-webgpu", true, 1, []string{"--- FAIL: TestBufferRoundTrip", "no WebGPU adapter", "\nFAIL\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer // run serialises its writes
			start := time.Now()
			code, err := run(t.Context(), options{
				Wasm: wasm, Args: []string{"-test.v"}, Timeout: 3 * time.Minute,
				NoWebGPU: c.noWebGPU, Stdout: &out, Stderr: &out,
			})
			t.Logf("exit code %d after %v:\n%s", code, time.Since(start).Round(time.Millisecond), out.String())
			if err != nil || code != c.code {
				t.Fatalf("run = %d, %v; want exit code %d", code, err, c.code)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
		})
	}
}

// TestOutput checks that program output is passed on by whole lines, with
// console messages between them, and that stdout and stderr stay apart.
func TestOutput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := &output{stdout: &stdout, stderr: &stderr, pending: map[int]string{}}
	o.write(1, "=== RUN")
	o.write(2, "err")
	o.line("console.log: hello")
	o.write(1, "   TestX\n--- PASS")
	o.write(1, ": TestX\nPA")
	o.flush()
	if want := "console.log: hello\n=== RUN   TestX\n--- PASS: TestX\nPA\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if want := "err\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}
