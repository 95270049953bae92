// Command browsertest runs a Go program built for GOOS=js GOARCH=wasm, usually
// a test binary, in headless Chromium with WebGPU. It streams the program's
// output and the page's console to stdout and exits with the program's exit
// code; a timeout, a page that cannot run the program (no WebGPU adapter, load
// error, crash) or an uncaught exception in the page makes it exit non-zero.
//
//	GOOS=js GOARCH=wasm go test -c -o /tmp/smoke.wasm ./tools/browsertest/smoke
//	go run ./tools/browsertest -wasm /tmp/smoke.wasm [-timeout 10m] [-screenshot out.png] [-no-webgpu] [-- -test.v]
//
// The browser is $CHROMIUM or /usr/bin/chromium (scripts/setup.sh installs
// Debian's); nothing is ever downloaded. wasm_exec.js comes from the GOROOT of
// the go command on PATH, which must be the Go that built the program.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/inspector"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

//go:embed page
var pageFiles embed.FS

// binding is the CDP binding through which page/loader.js reports.
const binding = "__novae"

type options struct {
	Wasm       string        // the program
	Args       []string      // its os.Args[1:]
	Timeout    time.Duration // for the whole run, browser start included
	Screenshot string        // write a PNG of the page here at the end ("" = none)
	NoWebGPU   bool          // launch without --enable-unsafe-webgpu and skip the adapter check
	Chromium   string        // browser binary ("" = $CHROMIUM or /usr/bin/chromium)
	Stdout     io.Writer     // program stdout, console messages, harness notes
	Stderr     io.Writer     // program stderr
	BrowserLog io.Writer     // Chromium's own output (nil = dropped)
}

func main() {
	var o options
	flag.StringVar(&o.Wasm, "wasm", "", "GOOS=js GOARCH=wasm program to run (required)")
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "limit for the whole run")
	flag.StringVar(&o.Screenshot, "screenshot", "", "write a PNG screenshot of the page to this file at the end")
	flag.BoolVar(&o.NoWebGPU, "no-webgpu", false, "launch Chromium without --enable-unsafe-webgpu (fallback tests)")
	verbose := flag.Bool("v", false, "copy Chromium's own log to stderr")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: browsertest -wasm prog.wasm [flags] [-- program args]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if o.Wasm == "" {
		flag.Usage()
		os.Exit(2)
	}
	o.Args = flag.Args()
	o.Stdout, o.Stderr = os.Stdout, os.Stderr
	if *verbose {
		o.BrowserLog = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest: FAIL:", err)
		if code <= 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run runs the program and returns its exit code, or -1 when it did not exit.
// err is non-nil when the run failed for a reason other than the exit code.
func run(ctx context.Context, o options) (code int, err error) {
	code = -1
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	deadline := time.Now().Add(o.Timeout)
	if _, err := os.Stat(o.Wasm); err != nil {
		return code, err
	}
	bin := o.Chromium
	if bin == "" {
		bin = chromiumPath()
	}
	if _, err := os.Stat(bin); err != nil {
		return code, fmt.Errorf("no Chromium at %s (run scripts/setup.sh, or set CHROMIUM): %w", bin, err)
	}
	execJS, err := wasmExecJS()
	if err != nil {
		return code, err
	}
	url, stopServer, err := serve(o, execJS)
	if err != nil {
		return code, err
	}
	defer stopServer()
	profile, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		return code, err
	}
	defer os.RemoveAll(profile) // after the browser has exited: deferred before cancelAlloc

	// The browser lives until the deadline plus time for a screenshot.
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(30*time.Second))
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, allocatorOptions(o, bin, profile)...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if err := chromedp.Do(bctx); err != nil {
		return code, fmt.Errorf("starting %s: %w", bin, err)
	}
	q := &queue{ready: make(chan struct{}, 1)}
	if err := chromedp.Listen(bctx, q.push); err != nil {
		return code, err
	}
	if _, err := chromedp.Call(bctx, runtime.AddBinding, runtime.AddBindingParams{Name: binding}); err != nil {
		return code, err
	}
	// Page.navigate without waiting for the load event: the page reports.
	nav, err := chromedp.Call(bctx, page.Navigate, page.NavigateParams{URL: url})
	if err == nil && nav.ErrorText != "" {
		err = errors.New(nav.ErrorText)
	}
	if err != nil {
		return code, fmt.Errorf("opening %s: %w", url, err)
	}
	detached, err := chromedp.Detached(bctx)
	if err != nil {
		return code, err
	}

	s := &session{out: &output{stdout: o.Stdout, stderr: o.Stderr, pending: map[int]string{}}}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for !s.exited && s.fatal == nil {
		select {
		case <-q.ready:
			for _, ev := range q.take() {
				if s.handle(ev); s.exited || s.fatal != nil {
					break
				}
			}
		case <-timer.C:
			s.fatal = fmt.Errorf("timeout: the program did not exit within %v", o.Timeout)
		case <-detached:
			s.fatal = errors.New("the browser closed the page")
		case <-ctx.Done():
			s.fatal = fmt.Errorf("interrupted: %w", context.Cause(ctx))
		}
	}
	s.out.flush()

	switch {
	case s.fatal != nil:
		err = s.fatal
	case s.pageErr != nil:
		code, err = s.code, s.pageErr
	default:
		code = s.code
	}
	if o.Screenshot != "" && ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		png, serr := chromedp.Run(sctx, chromedp.CaptureScreenshot())
		cancel()
		if serr == nil {
			serr = os.WriteFile(o.Screenshot, png, 0o644)
		}
		if serr != nil && err == nil {
			err = fmt.Errorf("screenshot: %w", serr)
		}
	}
	return code, err
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

func allocatorOptions(o options, bin, profile string) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), // containers often have a tiny /dev/shm
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1024, 768),
		chromedp.UserDataDir(profile),
	}
	if !o.NoWebGPU {
		opts = append(opts, chromedp.Flag("enable-unsafe-webgpu", true))
	}
	if o.BrowserLog != nil {
		opts = append(opts, chromedp.CombinedOutput(o.BrowserLog))
	}
	return opts
}

// wasmExecJS reads the wasm_exec.js of the go command's GOROOT.
func wasmExecJS() ([]byte, error) {
	b, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(b))
	for _, p := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} { // Go 1.24+, older
		if b, err := os.ReadFile(filepath.Join(goroot, p)); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no wasm_exec.js in %s/lib/wasm or %s/misc/wasm", goroot, goroot)
}

// serve serves the page, wasm_exec.js, the run's config and the program on a
// free port of 127.0.0.1 (a secure context, as WebGPU needs).
func serve(o options, execJS []byte) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	config, err := json.Marshal(map[string]any{
		"name":   filepath.Base(o.Wasm),
		"args":   append([]string{}, o.Args...), // [] rather than null
		"wasm":   "program.wasm",
		"webgpu": !o.NoWebGPU,
	})
	if err != nil {
		return "", nil, err
	}
	assets, _ := fs.Sub(pageFiles, "page")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(assets))
	mux.HandleFunc("GET /wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(execJS)
	})
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(config)
	})
	mux.HandleFunc("GET /program.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm") // instantiateStreaming insists
		http.ServeFile(w, r, o.Wasm)
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close() }, nil
}

// queue takes the tab's events from chromedp.Listen, whose func must return
// fast, and keeps their order for the loop in run.
type queue struct {
	mu    sync.Mutex
	evs   []any
	ready chan struct{}
}

func (q *queue) push(ev any) {
	switch ev.(type) {
	case *runtime.EventBindingCalled, *runtime.EventConsoleAPICalled, *runtime.EventExceptionThrown,
		*cdplog.EventEntryAdded, *inspector.EventTargetCrashed:
	default:
		return
	}
	q.mu.Lock()
	q.evs = append(q.evs, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) take() []any {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.evs
	q.evs = nil
	return evs
}

// session is the state of one run, driven by the page's events.
type session struct {
	out     *output
	exited  bool
	code    int
	fatal   error // the program could not run to its exit
	pageErr error // the first uncaught exception
}

func (s *session) handle(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventBindingCalled:
		if ev.Name != binding {
			return
		}
		var m struct {
			T    string `json:"t"`
			FD   int    `json:"fd"`
			S    string `json:"s"`
			Code int    `json:"code"`
		}
		if err := json.Unmarshal([]byte(ev.Payload), &m); err != nil {
			s.fatal = fmt.Errorf("bad message from the page: %v", err)
			return
		}
		switch m.T {
		case "out":
			s.out.write(m.FD, m.S)
		case "info":
			s.out.line("browsertest: " + m.S)
		case "fatal":
			s.fatal = errors.New(m.S)
		case "exit":
			s.exited, s.code = true, m.Code
		}
	case *runtime.EventConsoleAPICalled:
		s.out.line("console." + string(ev.Type) + ": " + consoleText(ev.Args))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		s.out.line("exception: " + text)
		if s.pageErr == nil {
			first, _, _ := strings.Cut(text, "\n")
			s.pageErr = fmt.Errorf("uncaught exception in the page: %s", first)
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		text := fmt.Sprintf("browser %s %s: %s", e.Source, e.Level, e.Text)
		if e.URL != "" {
			text += " (" + e.URL + ")"
		}
		s.out.line(text)
	case *inspector.EventTargetCrashed:
		s.fatal = errors.New("the page crashed")
	}
}

func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, len(args))
	for i, a := range args {
		var str string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal([]byte(a.Value), &str) == nil:
			parts[i] = str
		case a.UnserializableValue != "":
			parts[i] = string(a.UnserializableValue)
		case a.Description != "":
			parts[i] = a.Description
		case len(a.Value) > 0:
			parts[i] = string(a.Value)
		default:
			parts[i] = string(a.Type)
		}
	}
	return strings.Join(parts, " ")
}

// output writes the program's output by whole lines, so that a console
// message never lands in the middle of one, and serialises all writes.
type output struct {
	mu             sync.Mutex
	stdout, stderr io.Writer
	pending        map[int]string // per fd, the text after the last newline
}

func (o *output) writer(fd int) io.Writer {
	if fd == 2 {
		return o.stderr
	}
	return o.stdout
}

func (o *output) write(fd int, s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.pending[fd] + s
	if i := strings.LastIndexByte(p, '\n'); i >= 0 {
		io.WriteString(o.writer(fd), p[:i+1])
		p = p[i+1:]
	}
	o.pending[fd] = p
}

func (o *output) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(o.stdout, s+"\n")
}

// flush writes what is left of unterminated lines.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, fd := range slices.Sorted(maps.Keys(o.pending)) {
		if p := o.pending[fd]; p != "" {
			io.WriteString(o.writer(fd), p+"\n")
		}
		delete(o.pending, fd)
	}
}
