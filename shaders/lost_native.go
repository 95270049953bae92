//go:build !js

package shaders

/*
// Declared here: cogentcore/webgpu v0.23.0 links wgpu-native but does not
// export wgpuDeviceDestroy to Go.
typedef struct WGPUDeviceImpl* WGPUDevice;
void wgpuDeviceDestroy(WGPUDevice device);
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/cogentcore/webgpu/wgpu"
)

// Natively a lost device must never reach a submit or a poll: wgpu-native
// v0.23 treats an error there as fatal and panics inside Rust, which aborts
// the Go process (seen on an H100: a device lost mid-benchmark ended in
// SIGABRT at the next submit). Error scopes do not help there, and the
// bindings cannot register a device-lost callback (device_native.go). So
// before each submit the engine probes the device with a call the bindings
// do scope — creating a command encoder, which a lost device refuses — and
// turns a refusal into the engine's sticky device-lost error.
func (p *platform) submit(e *Engine, cmd *wgpu.CommandBuffer) {
	if err := p.lost(); err != nil {
		e.fail(err)
		return
	}
	probe, err := e.dev.CreateCommandEncoder(nil)
	if err != nil {
		msg := strings.ToLower(err.Error())
		if strings.Contains(msg, "lost") || strings.Contains(msg, "invalid") {
			p.setLost(fmt.Errorf("shaders: device lost (%s)", firstLine(err.Error())))
			e.fail(p.lost())
		} else {
			e.fail(fmt.Errorf("shaders: device refuses work: %w", err))
		}
		return
	}
	probe.Release()
	e.queue.Submit(cmd)
}

// Destroy destroys the device now, as a driver reset would: the engine's
// buffers become invalid and every later call returns a device-lost error
// instead of crashing. The device-loss tests use it; after it, make a new
// Engine. wgpu-native v0.23's wgpuDeviceDestroy leaves the device usable, so
// the engine marks itself lost first: what is tested is the engine's side
// (the error sticks, nothing submits to or polls the dead device).
func (e *Engine) Destroy() {
	e.plat.setLost(errors.New("shaders: device lost (destroyed)"))
	if e.dev != nil {
		C.wgpuDeviceDestroy(*(*C.WGPUDevice)(unsafe.Pointer(e.dev))) // Device's only field is its C handle (v0.23.0, pinned in go.mod)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
