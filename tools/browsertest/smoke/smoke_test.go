//go:build js

package smoke

import (
	"bytes"
	"encoding/binary"
	"math"
	"syscall/js"
	"testing"

	"github.com/cogentcore/webgpu/wgpu"
)

// await blocks the calling goroutine until the promise settles. Call it from
// a test goroutine, never inside a js.FuncOf callback: the callback would wait
// for an event loop that it is blocking.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1) // the callbacks must not block
	arg := func(args []js.Value) js.Value {
		if len(args) == 0 {
			return js.Undefined()
		}
		return args[0]
	}
	resolve := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{v: arg(args)}; return nil })
	reject := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{err: js.Error{Value: arg(args)}}; return nil })
	defer resolve.Release()
	defer reject.Release()
	p.Call("then", resolve, reject)
	r := <-ch
	return r.v, r.err
}

// newDevice requests an adapter and a device from JavaScript and wraps the
// device for cogentcore/webgpu. Validation errors of the test fail it.
func newDevice(t *testing.T) wgpu.Device {
	t.Helper()
	gpu := js.Global().Get("navigator").Get("gpu")
	if gpu.IsUndefined() {
		t.Fatal("navigator.gpu is undefined: no WebGPU in this browser")
	}
	adapter, err := await(gpu.Call("requestAdapter"))
	if err != nil {
		t.Fatal(err)
	}
	if adapter.IsNull() {
		t.Fatal("navigator.gpu.requestAdapter() returned null: no WebGPU adapter")
	}
	info := adapter.Get("info")
	t.Logf("adapter: vendor %q, architecture %q", info.Get("vendor").String(), info.Get("architecture").String())
	jsDevice, err := await(adapter.Call("requestDevice"))
	if err != nil {
		t.Fatal(err)
	}
	jsDevice.Call("pushErrorScope", "validation")
	t.Cleanup(func() {
		gpuErr, err := await(jsDevice.Call("popErrorScope"))
		if err != nil {
			t.Error(err)
		} else if !gpuErr.IsNull() {
			t.Errorf("WebGPU validation error: %s", gpuErr.Get("message"))
		}
		jsDevice.Call("destroy")
	})
	return wgpu.NewDevice(jsDevice)
}

// readBuffer copies size bytes of src into a mappable buffer and reads them.
func readBuffer(t *testing.T, dev wgpu.Device, enc *wgpu.CommandEncoder, src *wgpu.Buffer, size uint64) []byte {
	t.Helper()
	staging, err := dev.CreateBuffer(&wgpu.BufferDescriptor{Size: size, Usage: wgpu.BufferUsageMapRead | wgpu.BufferUsageCopyDst})
	if err != nil {
		t.Fatal(err)
	}
	defer staging.Destroy()
	enc.CopyBufferToBuffer(src, 0, staging, 0, size)
	cmd, err := enc.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	dev.GetQueue().Submit(cmd)
	status := wgpu.BufferMapAsyncStatus(math.MaxUint32)
	// Blocks until the mapAsync promise settles (the JS backend awaits it).
	if err := staging.MapAsync(wgpu.MapModeRead, 0, size, func(s wgpu.BufferMapAsyncStatus) { status = s }); err != nil {
		t.Fatal(err)
	}
	if status != wgpu.BufferMapAsyncStatusSuccess {
		t.Fatalf("MapAsync: %v", status)
	}
	data := staging.GetMappedRange(0, uint(size)) // a copy on the JS backend
	staging.Unmap()
	return data
}

func TestBufferRoundTrip(t *testing.T) {
	dev := newDevice(t)
	want := make([]byte, 256)
	for i := range want {
		want[i] = byte(i*7 + 3)
	}
	buf, err := dev.CreateBuffer(&wgpu.BufferDescriptor{Size: uint64(len(want)), Usage: wgpu.BufferUsageCopySrc | wgpu.BufferUsageCopyDst})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Destroy()
	// Reads Go memory through globalThis.wasm.instance.exports.mem.
	if err := dev.GetQueue().WriteBuffer(buf, 0, want); err != nil {
		t.Fatal(err)
	}
	enc, err := dev.CreateCommandEncoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBuffer(t, dev, enc, buf, uint64(len(want))); !bytes.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
}

const kernel = `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
	let i = id.x;
	if (i < arrayLength(&dst)) {
		dst[i] = src[i] * 2.0 + 1.0;
	}
}
`

func TestComputeKernel(t *testing.T) {
	dev := newDevice(t)
	const n = 1000 // not a multiple of the workgroup size
	in := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(float32(i)*0.5-100))
	}
	storage := func(usage wgpu.BufferUsage) *wgpu.Buffer {
		b, err := dev.CreateBuffer(&wgpu.BufferDescriptor{Size: 4 * n, Usage: wgpu.BufferUsageStorage | usage})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Destroy)
		return b
	}
	src, dst := storage(wgpu.BufferUsageCopyDst), storage(wgpu.BufferUsageCopySrc)
	if err := dev.GetQueue().WriteBuffer(src, 0, in); err != nil {
		t.Fatal(err)
	}

	module, err := dev.CreateShaderModule(&wgpu.ShaderModuleDescriptor{WGSLDescriptor: &wgpu.ShaderModuleWGSLDescriptor{Code: kernel}})
	if err != nil {
		t.Fatal(err)
	}
	// The JS backend has no GetBindGroupLayout: explicit layouts only.
	bgl, err := dev.CreateBindGroupLayout(&wgpu.BindGroupLayoutDescriptor{Entries: []wgpu.BindGroupLayoutEntry{
		{Binding: 0, Visibility: wgpu.ShaderStageCompute, Buffer: wgpu.BufferBindingLayout{Type: wgpu.BufferBindingTypeReadOnlyStorage}},
		{Binding: 1, Visibility: wgpu.ShaderStageCompute, Buffer: wgpu.BufferBindingLayout{Type: wgpu.BufferBindingTypeStorage}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	layout, err := dev.CreatePipelineLayout(&wgpu.PipelineLayoutDescriptor{BindGroupLayouts: []*wgpu.BindGroupLayout{bgl}})
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := dev.CreateComputePipeline(&wgpu.ComputePipelineDescriptor{
		Layout:  layout,
		Compute: wgpu.ProgrammableStageDescriptor{Module: module, EntryPoint: "main"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Size 0 would be passed as 0 (an empty binding): say WholeSize.
	group, err := dev.CreateBindGroup(&wgpu.BindGroupDescriptor{Layout: bgl, Entries: []wgpu.BindGroupEntry{
		{Binding: 0, Buffer: src, Size: wgpu.WholeSize},
		{Binding: 1, Buffer: dst, Size: wgpu.WholeSize},
	}})
	if err != nil {
		t.Fatal(err)
	}

	enc, err := dev.CreateCommandEncoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := enc.BeginComputePass(nil)
	pass.SetPipeline(pipeline)
	pass.SetBindGroup(0, group, nil)
	pass.DispatchWorkgroups((n+63)/64, 1, 1)
	pass.End()
	out := readBuffer(t, dev, enc, dst, 4*n)
	for i := range n {
		want := float32(i)*0.5*2 - 200 + 1
		if got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:])); got != want {
			t.Fatalf("dst[%d] = %v, want %v", i, got, want)
		}
	}
}
