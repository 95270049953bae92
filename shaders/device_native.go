//go:build !js

package shaders

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cogentcore/webgpu/wgpu"
)

// New opens a native WebGPU device (wgpu-native).
func New(o Options) (*Engine, error) {
	o = o.withEnv()
	backends := wgpu.InstanceBackendPrimary | wgpu.InstanceBackendGL
	switch strings.ToLower(o.Backend) {
	case "":
	case "vulkan":
		backends = wgpu.InstanceBackendVulkan
	case "gl", "opengl":
		backends = wgpu.InstanceBackendGL
	case "metal":
		backends = wgpu.InstanceBackendMetal
	case "dx12":
		backends = wgpu.InstanceBackendDX12
	default:
		return nil, fmt.Errorf("shaders: unknown backend %q (want vulkan, gl, metal or dx12)", o.Backend)
	}
	adapters, err := enumerate(backends)
	if err != nil {
		return nil, err
	}
	a, err := pickAdapter(adapters, o.Adapter)
	if err != nil {
		return nil, err
	}
	info := a.GetInfo()
	al := a.GetLimits().Limits
	have := Limits{
		MaxBinding:       al.MaxStorageBufferBindingSize,
		MaxBuffer:        al.MaxBufferSize,
		MaxWGStorage:     al.MaxComputeWorkgroupStorageSize,
		MaxInvocations:   al.MaxComputeInvocationsPerWorkgroup,
		MaxWGPerDim:      al.MaxComputeWorkgroupsPerDimension,
		MaxStorageBufs:   al.MaxStorageBuffersPerShaderStage,
		UniformAlignment: al.MinUniformBufferOffsetAlignment,
	}
	if err := have.check(); err != nil {
		return nil, err
	}
	// Never pass the adapter's limits back unchanged (MaxPushConstantSize is
	// garbage there): start from defaults and raise only what we need.
	req := wgpu.DefaultLimits()
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
	req.MaxStorageBufferBindingSize = got.MaxBinding
	req.MaxBufferSize = got.MaxBuffer
	req.MaxComputeWorkgroupStorageSize = got.MaxWGStorage
	req.MaxComputeInvocationsPerWorkgroup = got.MaxInvocations
	req.MaxComputeWorkgroupSizeX = got.MaxInvocations
	req.MaxComputeWorkgroupSizeY = got.MaxInvocations
	req.MaxComputeWorkgroupSizeZ = min32(64, got.MaxInvocations)
	req.MaxComputeWorkgroupsPerDimension = got.MaxWGPerDim
	req.MaxStorageBuffersPerShaderStage = got.MaxStorageBufs
	req.MaxPushConstantSize = 0

	var feats []wgpu.FeatureName
	if a.HasFeature(wgpu.FeatureNameTimestampQuery) {
		feats = append(feats, wgpu.FeatureNameTimestampQuery) // TimeGPU, for benchmarks
	}
	e := &Engine{Limits: got}
	dev, err := a.RequestDevice(&wgpu.DeviceDescriptor{
		Label:            "novae",
		RequiredFeatures: feats,
		RequiredLimits:   &wgpu.RequiredLimits{Limits: req},
		// No DeviceLostCallback: cogentcore/webgpu v0.23.0 passes a Go
		// pointer to C for it, which the cgo checker rejects. Natively a
		// lost device is caught by the probe before every submit
		// (lost_native.go).
	})
	if err != nil {
		return nil, fmt.Errorf("shaders: requesting a device from %s: %w", describe(info), err)
	}
	e.dev = dev
	e.Adapter = describe(info)
	if info.AdapterType == wgpu.AdapterTypeCPU {
		e.SubmitEvery = 1 // lavapipe/llvmpipe: keep every submission short
	}
	e.Backend = strings.ToLower(info.BackendType.String())
	if err := e.init(); err != nil {
		return nil, err
	}
	return e, nil
}

// Instances and adapter lists are made once per process and backend set:
// wgpu-native's GL backend panics when it is enumerated a second time.
var (
	instMu    sync.Mutex
	instances = map[wgpu.InstanceBackend][]*wgpu.Adapter{}
)

func enumerate(backends wgpu.InstanceBackend) ([]*wgpu.Adapter, error) {
	instMu.Lock()
	defer instMu.Unlock()
	if as, ok := instances[backends]; ok {
		return as, nil
	}
	inst := wgpu.CreateInstance(&wgpu.InstanceDescriptor{Backends: backends})
	if inst == nil {
		return nil, errors.New("shaders: cannot create a WebGPU instance")
	}
	as := inst.EnumerateAdapters(&wgpu.InstanceEnumerateAdapterOptons{Backends: backends})
	instances[backends] = as
	return as, nil
}

func describe(i wgpu.AdapterInfo) string {
	name := i.Name
	if name == "" || strings.HasPrefix(name, "0x") {
		name = i.DriverDescription
	} else if i.DriverDescription != "" {
		name += " (" + i.DriverDescription + ")"
	}
	return fmt.Sprintf("%s [%v, %v]", name, i.AdapterType, i.BackendType)
}

func pickAdapter(as []*wgpu.Adapter, want string) (*wgpu.Adapter, error) {
	infos := make([]wgpu.AdapterInfo, len(as))
	for i, a := range as {
		infos[i] = a.GetInfo()
	}
	i, err := pickInfo(infos, want)
	if err != nil {
		return nil, err
	}
	return as[i], nil
}

// pickInfo is pickAdapter's rule over the adapters' descriptions: those
// matching want ("" any, "cpu" CPU adapters only, else a case-insensitive
// substring of the description), best first: discrete, integrated, then
// the rest; among equals Vulkan, closest to what browsers use.
func pickInfo(infos []wgpu.AdapterInfo, want string) (int, error) {
	if len(infos) == 0 {
		return -1, errors.New("shaders: no WebGPU adapter found (on Linux without a GPU install mesa-vulkan-drivers)")
	}
	rank := func(i wgpu.AdapterInfo) int {
		r := 6
		switch i.AdapterType {
		case wgpu.AdapterTypeDiscreteGPU:
			r = 0
		case wgpu.AdapterTypeIntegratedGPU:
			r = 2
		}
		if i.BackendType != wgpu.BackendTypeVulkan {
			r++
		}
		return r
	}
	best := -1
	var names []string
	for n, i := range infos {
		d := describe(i)
		names = append(names, d)
		switch {
		case want == "":
		case strings.EqualFold(want, "cpu"):
			if i.AdapterType != wgpu.AdapterTypeCPU {
				continue
			}
		case !strings.Contains(strings.ToLower(d), strings.ToLower(want)):
			continue
		}
		if best < 0 || rank(i) < rank(infos[best]) {
			best = n
		}
	}
	if best < 0 {
		return -1, fmt.Errorf("shaders: no adapter matches %q; have: %s", want, strings.Join(names, "; "))
	}
	return best, nil
}

// platform holds what differs natively: device loss comes from a callback.
type platform struct {
	mu      sync.Mutex
	lostErr error
}

func (p *platform) setLost(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lostErr == nil {
		p.lostErr = err
	}
}

func (p *platform) lost() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lostErr
}

// scope runs f; natively every Create* reports validation errors itself.
func (p *platform) scope(e *Engine, f func() error) error { return f() }

func (p *platform) writeBuffer(e *Engine, b *wgpu.Buffer, data []byte) error {
	return e.queue.WriteBuffer(b, 0, data)
}

func (p *platform) mapRead(e *Engine, b *wgpu.Buffer, size uint64) ([]byte, error) {
	var status wgpu.BufferMapAsyncStatus
	done := false
	if err := b.MapAsync(wgpu.MapModeRead, 0, size, func(s wgpu.BufferMapAsyncStatus) {
		status, done = s, true
	}); err != nil {
		return nil, err
	}
	for !done {
		if err := p.lost(); err != nil { // never poll a lost device: wgpu-native would abort
			return nil, err
		}
		e.dev.Poll(true, nil)
	}
	if status != wgpu.BufferMapAsyncStatusSuccess {
		return nil, fmt.Errorf("map failed: %v", status)
	}
	out := append([]byte(nil), b.GetMappedRange(0, uint(size))...)
	return out, b.Unmap()
}
