//go:build js

package shaders

import (
	"errors"
	"fmt"
	"syscall/js"
	"unsafe"

	"github.com/cogentcore/webgpu/wgpu"
	promise "github.com/nlepage/go-js-promise"
)

// ErrNoWebGPU is returned by New when the browser has no WebGPU.
var ErrNoWebGPU = errors.New("shaders: this browser has no WebGPU (navigator.gpu is missing)")

// New requests a WebGPU device from the browser. It blocks until the
// promises settle, so call it from a goroutine, never from a js.FuncOf
// callback. The device is requested from JS, not through wgpu's
// RequestDevice, because the JS backend drops RequiredLimits and panics on
// RequiredFeatures (cogentcore/webgpu v0.23.0).
func New(o Options) (*Engine, error) {
	gpu := js.Global().Get("navigator").Get("gpu")
	if !gpu.Truthy() {
		return nil, ErrNoWebGPU
	}
	opts := js.Global().Get("Object").New()
	opts.Set("powerPreference", "high-performance")
	adapter, err := promise.Await(gpu.Call("requestAdapter", opts))
	if err != nil || !adapter.Truthy() {
		return nil, fmt.Errorf("shaders: WebGPU is present but gave no adapter (%v)", err)
	}
	return NewFromAdapter(adapter)
}

// NewFromAdapter requests a device from a JS GPUAdapter with the limits and
// features novae uses.
func NewFromAdapter(adapter js.Value) (*Engine, error) {
	al := adapter.Get("limits")
	u64 := func(name string) uint64 { return uint64(al.Get(name).Float()) }
	u32 := func(name string) uint32 { return uint32(al.Get(name).Float()) }
	have := Limits{
		MaxBinding:       u64("maxStorageBufferBindingSize"),
		MaxBuffer:        u64("maxBufferSize"),
		MaxWGStorage:     u32("maxComputeWorkgroupStorageSize"),
		MaxInvocations:   u32("maxComputeInvocationsPerWorkgroup"),
		MaxWGPerDim:      u32("maxComputeWorkgroupsPerDimension"),
		MaxStorageBufs:   u32("maxStorageBuffersPerShaderStage"),
		UniformAlignment: u32("minUniformBufferOffsetAlignment"),
	}
	if err := have.check(); err != nil {
		return nil, err
	}
	got := Limits{
		MaxBinding:     min64(have.MaxBinding, need.MaxBinding),
		MaxBuffer:      min64(have.MaxBuffer, need.MaxBuffer),
		MaxWGStorage:   min32(have.MaxWGStorage, need.MaxWGStorage),
		MaxInvocations: min32(have.MaxInvocations, need.MaxInvocations),
		MaxWGPerDim:    min32(have.MaxWGPerDim, need.MaxWGPerDim),
		MaxStorageBufs: min32(have.MaxStorageBufs, need.MaxStorageBufs),
		// The device keeps the default 256 unless asked: pack params at
		// 256 whatever the adapter could do.
		UniformAlignment: max(have.UniformAlignment, 256),
	}
	req := js.Global().Get("Object").New()
	req.Set("maxStorageBufferBindingSize", float64(got.MaxBinding))
	req.Set("maxBufferSize", float64(got.MaxBuffer))
	req.Set("maxComputeWorkgroupStorageSize", got.MaxWGStorage)
	req.Set("maxComputeInvocationsPerWorkgroup", got.MaxInvocations)
	req.Set("maxComputeWorkgroupSizeX", got.MaxInvocations)
	req.Set("maxComputeWorkgroupSizeY", got.MaxInvocations)
	req.Set("maxStorageBuffersPerShaderStage", got.MaxStorageBufs)
	feats := js.Global().Get("Array").New()
	hasF16 := adapter.Get("features").Call("has", "shader-f16").Bool()
	if hasF16 {
		feats.Call("push", "shader-f16")
	}
	desc := js.Global().Get("Object").New()
	desc.Set("requiredLimits", req)
	desc.Set("requiredFeatures", feats)
	desc.Set("label", "novae")
	dev, err := promise.Await(adapter.Call("requestDevice", desc))
	if err != nil || !dev.Truthy() {
		return nil, fmt.Errorf("shaders: requestDevice failed: %v", err)
	}
	e, err := NewFromDevice(dev, got)
	if err != nil {
		return nil, err
	}
	e.HasF16 = hasF16
	e.Adapter = adapterName(adapter)
	return e, nil
}

func adapterName(a js.Value) string {
	info := a.Get("info")
	if !info.Truthy() {
		return "WebGPU adapter"
	}
	var s string
	for _, k := range []string{"vendor", "architecture", "device", "description"} {
		if v := info.Get(k); v.Truthy() && v.String() != "" {
			if s != "" {
				s += " "
			}
			s += v.String()
		}
	}
	if s == "" {
		s = "WebGPU adapter"
	}
	return s
}

// NewFromDevice wraps a JS GPUDevice that the page already holds.
func NewFromDevice(dev js.Value, lim Limits) (*Engine, error) {
	wd := wgpu.NewDevice(dev)
	e := &Engine{Limits: lim, Backend: "webgpu (browser)", dev: &wd}
	e.plat.jsDev = dev
	e.plat.watch(dev)
	if err := e.init(); err != nil {
		return nil, err
	}
	return e, nil
}

// DeviceJS returns the JS GPUDevice (the page streams weights into its
// buffers with device.queue.writeBuffer).
func (e *Engine) DeviceJS() js.Value { return e.plat.jsDev }

// BufferJS returns t's GPUBuffer so JS can write into it directly (weights
// streamed from fetch never pass through the Go heap).
func (t *Tensor) BufferJS() js.Value {
	// wgpu.Buffer on js is a struct holding only its js.Value.
	return *(*js.Value)(unsafe.Pointer(t.buf))
}

// platform holds what differs in the browser: the JS device for error scopes
// and loss.
type platform struct {
	jsDev   js.Value
	lostErr error
	uncap   error
	funcs   []js.Func
	queue   js.Value
	staging js.Value // reusable Uint8Array for writes from Go memory
	stageN  int
}

// writeBuffer copies data into b through a JS staging array. The backend's
// Queue.WriteBuffer wraps Go memory in a view of mem.buffer taken before
// its arguments are converted; an allocation in between can grow memory and
// detach that buffer ("Cannot perform Construct on a detached ArrayBuffer").
// js.CopyBytesToJS reads mem.buffer afresh inside JS, so it cannot race.
func (p *platform) writeBuffer(e *Engine, b *wgpu.Buffer, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	stage := p.staging
	switch {
	case len(data) > 16<<20: // rare and large: don't keep it around
		stage = js.Global().Get("Uint8Array").New(len(data))
	case p.stageN < len(data):
		n := 1 << 16
		for n < len(data) {
			n *= 2
		}
		p.staging = js.Global().Get("Uint8Array").New(n)
		p.stageN = n
		stage = p.staging
	}
	if !p.queue.Truthy() {
		p.queue = p.jsDev.Get("queue")
	}
	js.CopyBytesToJS(stage, data)
	jb := *(*js.Value)(unsafe.Pointer(b))
	p.queue.Call("writeBuffer", jb, 0, stage, 0, len(data))
	return nil
}

func (p *platform) watch(dev js.Value) {
	onLost := js.FuncOf(func(this js.Value, args []js.Value) any {
		msg := "unknown reason"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Get("reason").String() + ": " + args[0].Get("message").String()
		}
		p.lostErr = fmt.Errorf("shaders: device lost (%s)", msg)
		return nil
	})
	onErr := js.FuncOf(func(this js.Value, args []js.Value) any {
		if p.uncap == nil && len(args) > 0 {
			p.uncap = fmt.Errorf("shaders: GPU error: %s", args[0].Get("error").Get("message").String())
		}
		return nil
	})
	p.funcs = append(p.funcs, onLost, onErr)
	dev.Get("lost").Call("then", onLost)
	dev.Set("onuncapturederror", onErr)
}

func (p *platform) lost() error {
	if p.lostErr != nil {
		return p.lostErr
	}
	err := p.uncap
	p.uncap = nil
	return err
}

// scope runs f inside a validation error scope: the JS backend's Create*
// always return nil errors, so compile errors only surface here.
func (p *platform) scope(e *Engine, f func() error) error {
	p.jsDev.Call("pushErrorScope", "validation")
	ferr := f()
	res, err := promise.Await(p.jsDev.Call("popErrorScope"))
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	if res.Truthy() {
		return errors.New(res.Get("message").String())
	}
	return nil
}

func (p *platform) mapRead(e *Engine, b *wgpu.Buffer, size uint64) ([]byte, error) {
	jb := *(*js.Value)(unsafe.Pointer(b))
	if _, err := promise.Await(jb.Call("mapAsync", 1, 0, float64(size))); err != nil {
		if p.lostErr != nil {
			return nil, p.lostErr
		}
		return nil, err
	}
	ab := jb.Call("getMappedRange", 0, float64(size))
	src := js.Global().Get("Uint8Array").New(ab)
	out := make([]byte, src.Length())
	js.CopyBytesToGo(out, src)
	jb.Call("unmap")
	return out, nil
}

// submit sends cmd; the browser reports errors through onuncapturederror
// and device.lost (watch), which lost() turns into errors.
func (p *platform) submit(e *Engine, cmd *wgpu.CommandBuffer) {
	if err := p.lostErr; err != nil {
		e.fail(err)
		return
	}
	e.queue.Submit(cmd)
}

// Destroy destroys the device now (device.destroy()), as a driver reset
// would: every later call returns a device-lost error. The device-loss
// tests use it; after it, make a new Engine.
func (e *Engine) Destroy() {
	if e.plat.jsDev.Truthy() {
		e.plat.jsDev.Call("destroy")
	}
}
