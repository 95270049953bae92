package main

import (
	"strings"
	"testing"
)

func TestChoosePath(t *testing.T) {
	swift := AdapterFacts{HasWebGPU: true, Adapter: true, Info: "google swiftshader  SwiftShader Device (Subzero) "}
	gpu := AdapterFacts{HasWebGPU: true, Adapter: true, Info: "nvidia ampere  "}
	for _, c := range []struct {
		name     string
		pref     string
		f        AdapterFacts
		backend  string
		software string
		asked    bool
		says     []string
	}{
		{"no WebGPU", "", AdapterFacts{}, "cpu", "", false, []string{"CPU", "has no WebGPU"}},
		{"no WebGPU, asked for it", "webgpu", AdapterFacts{}, "cpu", "", false, []string{"has no WebGPU"}},
		{"no adapter", "", AdapterFacts{HasWebGPU: true}, "cpu", "", false, []string{"offered no graphics adapter"}},
		{"SwiftShader", "", swift, "cpu", "SwiftShader", false, []string{"Running on the CPU", "SwiftShader, a software renderer", "slower"}},
		{"SwiftShader, WebGPU asked for", "webgpu", swift, "webgpu", "SwiftShader", true, []string{"Running on WebGPU, as asked", "SwiftShader"}},
		{"llvmpipe", "", AdapterFacts{HasWebGPU: true, Adapter: true, Info: "mesa llvmpipe  "}, "cpu", "llvmpipe", false, []string{"llvmpipe"}},
		{"lavapipe", "", AdapterFacts{HasWebGPU: true, Adapter: true, Info: "mesa  lavapipe "}, "cpu", "lavapipe", false, []string{"lavapipe"}},
		{"fallback flag alone", "", AdapterFacts{HasWebGPU: true, Adapter: true, Fallback: true}, "cpu", "a software renderer", false, []string{"is a software renderer,"}},
		{"hardware GPU", "", gpu, "webgpu", "", false, []string{"Running on the GPU"}},
		{"hardware GPU, CPU asked for", "cpu", gpu, "cpu", "", true, []string{"Running on the CPU", "as asked"}},
		{"SwiftShader, CPU asked for", "cpu", swift, "cpu", "SwiftShader", true, []string{"as asked"}},
	} {
		p := ChoosePath(c.pref, c.f)
		if p.Backend != c.backend || p.Software != c.software || p.Asked != c.asked {
			t.Errorf("%s: %+v, want backend %s, software %q, asked %v", c.name, p, c.backend, c.software, c.asked)
		}
		for _, w := range c.says {
			if !strings.Contains(p.Line, w) {
				t.Errorf("%s: %q does not say %q", c.name, p.Line, w)
			}
		}
		for _, bad := range []string{"<nil>", "shaders:", "error"} {
			if strings.Contains(p.Line, bad) {
				t.Errorf("%s: %q has internal text %q", c.name, p.Line, bad)
			}
		}
	}
}

func TestPref(t *testing.T) {
	for in, want := range map[string]string{"1": "webgpu", "true": "webgpu", " YES ": "webgpu", "0": "cpu", "false": "cpu", "no": "cpu", "": "", "<null>": "", "2": ""} {
		if got := Pref(in); got != want {
			t.Errorf("Pref(%q) = %q, want %q", in, got, want)
		}
	}
}
