//go:build js

package main

import (
	"errors"
	"fmt"
	"image/color"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	promise "github.com/nlepage/go-js-promise"

	"novae/model"
	"novae/shaders"
)

var bgColor = color.RGBA{background[0], background[1], background[2], 255}

// frame is one picture for the canvas, with what it shows.
type frame struct {
	W, H   int
	RGBA   []byte
	Layout Layout
	Kind   string  // "step", "final", "encode", "interp"
	Step   int     // 0-based step of a trajectory frame
	Steps  int     // steps of its run
	T      float64 // flow time reached
	Seq    int64   // set by show: the n-th frame shown
}

// seq numbers shown frames; drawn is the Seq of the frame the Game last
// drew, so a test can wait until the canvas holds a given frame.
var seq, drawn atomic.Int64

// app is the program: a worker goroutine that owns the engine and the
// model and runs one command at a time, the JS API that queues commands,
// and the latest frames for the Game.
type app struct {
	cmds      chan func()
	frames    chan *frame
	listeners []js.Value
	funcs     []js.Func

	// owned by the worker goroutine
	b        model.Backend
	gpu      *model.GPU // nil on the CPU path
	soft     js.Value   // a software adapter passed over for the CPU path (used for a model too large for it)
	softName string
	bootRes  map[string]any
	m        *model.SVG
	src      *model.GPUSource
	modelJS  map[string]any
	modelURL string      // what load was last asked for: reloaded after a lost device
	twin     *twin       // the model's VAE twin for compare mode, once loaded (compare.go)
	twinURL  string      // what loadTwin was last asked for: reloaded after a lost device
	encoded  [][]float32 // latents of the last two encoded images [T·C]
	encRGBA  []byte      // the last encoded input, S×S RGBA

	gen atomic.Int64 // id of the newest generation asked for; older ones stop

	mu   sync.Mutex // guards traj and last (scrubbing runs on the JS side)
	traj []*frame
	last *frame

	lostMu sync.Mutex
	lost   map[*shaders.Engine]bool // engines whose device.lost has resolved
}

func newApp() *app {
	return &app{cmds: make(chan func(), 64), frames: make(chan *frame, 1), lost: map[*shaders.Engine]bool{}}
}

var errCanceled = errors.New("canceled")

// show hands f to the Game (replacing a frame it has not taken yet).
func (a *app) show(f *frame) {
	f.Seq = seq.Add(1)
	a.mu.Lock()
	a.last = f
	a.mu.Unlock()
	for {
		select {
		case a.frames <- f:
			schedule() // the game draws only when asked (see main)
			return
		default:
			select {
			case <-a.frames:
			default:
			}
		}
	}
}

// emit sends an event to every listener: (type, detail object).
func (a *app) emit(typ string, detail any) {
	v := js.ValueOf(detail)
	for _, l := range a.listeners {
		l.Invoke(typ, v)
	}
}

// work boots the backend, then runs commands until the page goes away.
func (a *app) work() {
	a.boot()
	for c := range a.cmds {
		c()
	}
}

func (a *app) boot() {
	start := time.Now()
	path, adapter, reason := a.choose()
	info := map[string]any{"software": path.Software, "asked": path.Asked}
	var e *shaders.Engine
	if path.Backend == "webgpu" {
		var err error
		if e, err = shaders.NewFromAdapter(adapter); err != nil {
			path, reason = Path{Backend: "cpu", Software: path.Software, Line: TooSmallLine}, err.Error()
		}
	} else if path.Software != "" && !path.Asked {
		a.soft, a.softName = adapter, path.Software // for a model too large for the CPU path
	}
	if e != nil {
		a.gpu = model.NewGPU(e)
		a.b = a.gpu
		a.watchLoss(e)
		info["backend"] = "webgpu"
		info["adapter"] = e.Adapter
		info["label"] = "WebGPU: " + e.Adapter
		info["f16"] = e.HasF16
		info["maxBuffer"] = float64(e.Limits.MaxBuffer)
		info["maxBinding"] = float64(e.Limits.MaxBinding)
	} else {
		a.b = model.CPU{}
		info["backend"] = "cpu"
		info["adapter"] = ""
		info["label"] = "CPU (Go compiled to WebAssembly)"
		info["maxBytes"] = float64(cpuMaxBytes)
	}
	info["noWebGPU"] = reason == shaders.ErrNoWebGPU.Error()
	info["reason"] = reason
	info["path"] = path.Line
	info["ms"] = ms(time.Since(start))
	a.bootRes = info
	a.emit("boot", info)
}

// choose asks the browser for an adapter and picks the path (path.go); it
// returns the adapter (to make the device from) and, when WebGPU is not
// usable at all, the technical reason.
func (a *app) choose() (Path, js.Value, string) {
	pref := ""
	if q := js.Global().Get("location").Get("search"); q.Type() == js.TypeString {
		pref = Pref(js.Global().Get("URLSearchParams").New(q).Call("get", "webgpu").String())
	}
	gpu := js.Global().Get("navigator").Get("gpu")
	f := AdapterFacts{HasWebGPU: gpu.Truthy()}
	if !f.HasWebGPU {
		return ChoosePath(pref, f), js.Undefined(), shaders.ErrNoWebGPU.Error()
	}
	opts := js.Global().Get("Object").New()
	opts.Set("powerPreference", "high-performance")
	adapter, err := promise.Await(gpu.Call("requestAdapter", opts))
	if err != nil || !adapter.Truthy() {
		reason := "requestAdapter() gave none"
		if err != nil {
			reason = "requestAdapter() failed: " + err.Error()
		}
		return ChoosePath(pref, f), js.Undefined(), reason
	}
	f.Adapter = true
	truthy := func(v js.Value, k string) bool { return v.Truthy() && v.Get(k).Truthy() }
	info := adapter.Get("info")
	f.Fallback = truthy(adapter, "isFallbackAdapter") || truthy(info, "isFallbackAdapter")
	if info.Truthy() {
		for _, k := range []string{"vendor", "architecture", "device", "description"} {
			if v := info.Get(k); v.Type() == js.TypeString {
				f.Info += v.String() + " "
			}
		}
	}
	return ChoosePath(pref, f), adapter, ""
}

// useSoftGPU makes the device on the software adapter kept at boot, for a
// model too large for the CPU path, and tells the page.
func (a *app) useSoftGPU() error {
	e, err := shaders.NewFromAdapter(a.soft)
	a.soft = js.Undefined()
	if err != nil {
		return err
	}
	a.gpu = model.NewGPU(e)
	a.b = a.gpu
	a.watchLoss(e)
	info := a.bootRes
	info["backend"], info["adapter"], info["label"] = "webgpu", e.Adapter, "WebGPU: "+e.Adapter
	info["f16"], info["maxBuffer"], info["maxBinding"] = e.HasF16, float64(e.Limits.MaxBuffer), float64(e.Limits.MaxBinding)
	info["path"] = LargeModelLine(a.softName)
	delete(info, "maxBytes")
	a.emit("boot", info)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// jsErr makes a JS Error.
func jsErr(err error) js.Value { return js.Global().Get("Error").New(err.Error()) }

// queue runs cmd on the worker and returns a Promise of its result.
func (a *app) queue(name string, cmd func() (any, error)) js.Value {
	p, resolve, reject := promise.New()
	run := func() {
		defer func() {
			if r := recover(); r != nil {
				err := fmt.Errorf("%s: internal error: %v", name, r)
				println(err.Error(), "\n", string(debug.Stack()))
				a.emit("error", map[string]any{"op": name, "message": err.Error()})
				reject(jsErr(err))
			}
		}()
		v, err := cmd()
		if err != nil {
			if !errors.Is(err, errCanceled) {
				a.emit("error", errorDetail(name, err))
			}
			reject(jsErr(err))
			return
		}
		resolve(js.ValueOf(v))
	}
	select {
	case a.cmds <- run:
	default:
		reject(jsErr(errors.New(name + ": too many commands queued")))
	}
	return p
}

// installAPI publishes globalThis.novae (see doc.go for the contract).
func (a *app) installAPI() {
	api := js.Global().Get("Object").New()
	def := func(name string, f func(args []js.Value) any) {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any { return f(args) })
		a.funcs = append(a.funcs, fn)
		api.Set(name, fn)
	}
	arg := func(args []js.Value, i int) js.Value {
		if i < len(args) {
			return args[i]
		}
		return js.Undefined()
	}
	def("on", func(args []js.Value) any {
		if f := arg(args, 0); f.Type() == js.TypeFunction {
			a.listeners = append(a.listeners, f)
			if a.bootRes != nil { // a late listener still learns the backend
				f.Invoke("boot", js.ValueOf(a.bootRes))
			}
		}
		return nil
	})
	def("load", func(args []js.Value) any {
		url := arg(args, 0)
		if url.Type() != js.TypeString {
			return promise.Reject(jsErr(errors.New("load(url): url must be a string")))
		}
		return a.queue("load", func() (any, error) { return a.load(url.String()) })
	})
	def("loadTwin", func(args []js.Value) any {
		url := arg(args, 0)
		if url.Type() != js.TypeString {
			return promise.Reject(jsErr(errors.New("loadTwin(url): url must be a string")))
		}
		return a.queue("loadTwin", func() (any, error) { return a.loadTwin(url.String()) })
	})
	def("generate", func(args []js.Value) any {
		opts := jsonOf(arg(args, 0))
		id := a.gen.Add(1) // a newer request stops the running one at its next step
		p := a.queue("generate", func() (any, error) { return a.generate(id, opts) })
		p.Set("run", float64(id)) // the run's events carry it: the page matches them to its request
		return p
	})
	def("cancel", func(args []js.Value) any {
		a.gen.Add(1)
		return nil
	})
	def("show", func(args []js.Value) any {
		i := arg(args, 0)
		if i.Type() != js.TypeNumber {
			return false
		}
		return a.scrub(i.Int())
	})
	def("timeGrid", func(args []js.Value) any {
		steps, shift := arg(args, 0), arg(args, 1)
		if steps.Type() != js.TypeNumber || shift.Type() != js.TypeNumber {
			return nil
		}
		n := min(max(steps.Int(), 1), MaxSteps)
		s := min(max(shift.Float(), MinShift), MaxShift)
		out := []any{}
		for _, t := range model.TimeGrid(n, s) {
			out = append(out, float64(t))
		}
		return out
	})
	def("device", func(args []js.Value) any { // the GPUDevice in use (null on the CPU fallback)
		if a.gpu == nil {
			return js.Null()
		}
		return a.gpu.E.DeviceJS()
	})
	def("pixels", func(args []js.Value) any { return a.pixels() })
	def("drawn", func(args []js.Value) any { return float64(drawn.Load()) })
	def("info", func(args []js.Value) any {
		out := map[string]any{"boot": nil, "model": nil, "twin": nil}
		if a.bootRes != nil {
			out["boot"] = a.bootRes
		}
		if a.modelJS != nil {
			out["model"] = a.modelJS
		}
		if a.twin != nil {
			out["twin"] = a.twin.js
		}
		return out
	})
	def("encode", func(args []js.Value) any {
		px := arg(args, 0)
		if px.Type() != js.TypeObject || !px.Get("length").Truthy() {
			return promise.Reject(jsErr(errors.New("encode(rgba): want a Uint8Array or Uint8ClampedArray of S×S×4 bytes")))
		}
		buf := make([]byte, px.Get("length").Int())
		js.CopyBytesToGo(buf, js.Global().Get("Uint8Array").New(px.Get("buffer"), px.Get("byteOffset"), px.Get("length")))
		return a.queue("encode", func() (any, error) { return a.encode(buf) })
	})
	def("img2img", func(args []js.Value) any {
		opts := jsonOf(arg(args, 0))
		id := a.gen.Add(1)
		return a.queue("img2img", func() (any, error) { return a.img2img(id, opts) })
	})
	def("interpolateEncoded", func(args []js.Value) any {
		n := arg(args, 0)
		frames := 5
		if n.Type() == js.TypeNumber {
			frames = min(max(n.Int(), 2), MaxFrames)
		}
		return a.queue("interpolateEncoded", func() (any, error) { return a.interpolateEncoded(frames) })
	})
	a.embedAPI(api) // embed.go
	js.Global().Set("novae", api)
	if host := js.Global().Get("novaeHost"); host.Truthy() && host.Get("apiReady").Type() == js.TypeFunction {
		host.Call("apiReady", api)
	}
}

// jsonOf turns a JS options object (or JSON string) into JSON bytes.
func jsonOf(v js.Value) []byte {
	switch v.Type() {
	case js.TypeString:
		return []byte(v.String())
	case js.TypeObject:
		return []byte(js.Global().Get("JSON").Call("stringify", v).String())
	}
	return []byte("{}")
}

// scrub shows frame i of the last run's trajectory (no recomputation).
func (a *app) scrub(i int) any {
	a.mu.Lock()
	traj := a.traj
	a.mu.Unlock()
	if i < 0 || i >= len(traj) {
		return false
	}
	f := traj[i]
	a.show(f)
	return map[string]any{"step": f.Step, "steps": f.Steps, "t": f.T}
}

// pixels returns the frame on the canvas: its RGBA bytes and layout, for
// the page's own checks and the tests.
func (a *app) pixels() any {
	a.mu.Lock()
	f := a.last
	a.mu.Unlock()
	if f == nil {
		return nil
	}
	u8 := js.Global().Get("Uint8ClampedArray").New(len(f.RGBA))
	js.CopyBytesToJS(js.Global().Get("Uint8Array").New(u8.Get("buffer")), f.RGBA)
	return map[string]any{"w": f.W, "h": f.H, "rgba": u8, "layout": layoutJS(f.Layout),
		"kind": f.Kind, "step": f.Step, "steps": f.Steps, "t": f.T, "seq": float64(f.Seq)}
}

func layoutJS(l Layout) map[string]any {
	ps := []any{}
	for _, p := range l.Panels {
		ps = append(ps, p)
	}
	labels := []any{}
	for _, s := range l.Labels {
		labels = append(labels, s)
	}
	return map[string]any{"s": l.S, "gap": l.Gap, "sep": l.Sep, "b": l.B, "cols": l.Cols, "rows": l.Rows,
		"panels": ps, "w": l.W, "h": l.H, "labels": labels}
}

func rnd() uint64 { return rand.Uint64() }

// yield lets the browser run (paint, deliver events) between steps of pure
// computation: the CPU fallback never waits on a promise otherwise.
func yield() {
	p, resolve, _ := promise.New()
	var f js.Func
	f = js.FuncOf(func(js.Value, []js.Value) any { f.Release(); resolve(nil); return nil })
	js.Global().Call("setTimeout", f, 0)
	promise.Await(p)
}
