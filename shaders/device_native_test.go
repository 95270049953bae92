//go:build !js

package shaders

import (
	"strings"
	"testing"

	"github.com/cogentcore/webgpu/wgpu"
)

// TestPickInfo: the adapter rule — discrete before integrated before CPU,
// Vulkan among equals, "cpu" and name filters — on made-up adapter lists.
func TestPickInfo(t *testing.T) {
	ad := func(name string, typ wgpu.AdapterType, be wgpu.BackendType) wgpu.AdapterInfo {
		return wgpu.AdapterInfo{Name: name, AdapterType: typ, BackendType: be}
	}
	all := []wgpu.AdapterInfo{
		ad("llvmpipe", wgpu.AdapterTypeCPU, wgpu.BackendTypeVulkan),
		ad("Intel UHD", wgpu.AdapterTypeIntegratedGPU, wgpu.BackendTypeVulkan),
		ad("NVIDIA H100 GL", wgpu.AdapterTypeDiscreteGPU, wgpu.BackendTypeOpenGL),
		ad("NVIDIA H100", wgpu.AdapterTypeDiscreteGPU, wgpu.BackendTypeVulkan),
	}
	for _, c := range []struct {
		want string
		list []wgpu.AdapterInfo
		pick string // "" = an error
	}{
		{"", all, "NVIDIA H100"},
		{"cpu", all, "llvmpipe"},
		{"CPU", all, "llvmpipe"},
		{"intel", all, "Intel UHD"},
		{"h100 gl", all, "NVIDIA H100 GL"},
		{"", all[:2], "Intel UHD"},
		{"", all[2:3], "NVIDIA H100 GL"},
		{"cpu", all[1:], ""},
		{"radeon", all, ""},
		{"", nil, ""},
	} {
		i, err := pickInfo(c.list, c.want)
		switch {
		case c.pick == "" && err == nil:
			t.Errorf("want %q from %d adapters: picked %q, want an error", c.want, len(c.list), c.list[i].Name)
		case c.pick == "":
			if len(c.list) > 0 && !strings.Contains(err.Error(), c.list[0].Name) {
				t.Errorf("want %q: error %q does not list the adapters", c.want, err)
			}
		case err != nil:
			t.Errorf("want %q: %v", c.want, err)
		case c.list[i].Name != c.pick:
			t.Errorf("want %q: picked %q, want %q", c.want, c.list[i].Name, c.pick)
		}
	}
}

// TestNewOptions: the backend and adapter options, and their environment
// variables, reach adapter selection.
func TestNewOptions(t *testing.T) {
	if _, err := New(Options{Backend: "glide"}); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Errorf("backend glide: %v", err)
	}
	if _, err := New(Options{Adapter: "no-such-adapter-42"}); err == nil || !strings.Contains(err.Error(), "no adapter matches") {
		t.Errorf("adapter no-such-adapter-42: %v", err)
	}
	t.Setenv("NOVAE_ADAPTER", "no-such-adapter-42")
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "no-such-adapter-42") {
		t.Errorf("NOVAE_ADAPTER=no-such-adapter-42: %v", err)
	}
	t.Setenv("NOVAE_ADAPTER", "")
	t.Setenv("NOVAE_BACKEND", "glide")
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "glide") {
		t.Errorf("NOVAE_BACKEND=glide: %v", err)
	}
}
