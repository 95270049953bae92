package main

// Which path computes: WebGPU on a real GPU, or the pure-Go CPU path. A
// software WebGPU adapter (SwiftShader in Chromium without a GPU, llvmpipe
// or lavapipe on Linux) runs the WGSL kernels on the CPU through a shader
// emulator, which is slower than the same program's pure-Go path: measured
// in headless Chromium on 2 cores, the digits model took 3.4–4.9 s per step
// on SwiftShader against 0.4 s per step on the CPU path. So a software
// adapter runs the small models on the CPU path unless the visitor asks for
// WebGPU (?webgpu=1); ?webgpu=0 asks for the CPU path anywhere.

import "strings"

// AdapterFacts is what the browser told about WebGPU.
type AdapterFacts struct {
	HasWebGPU bool   // navigator.gpu exists
	Adapter   bool   // requestAdapter gave an adapter
	Fallback  bool   // adapter.isFallbackAdapter (or info.isFallbackAdapter)
	Info      string // adapter.info: vendor, architecture, device, description
}

// Path is the chosen way to compute and the one plain sentence that says
// which and why.
type Path struct {
	Backend  string // "webgpu" or "cpu"
	Software string // the software renderer's name ("" for a hardware GPU)
	Asked    bool   // the visitor's ?webgpu= decided it
	Line     string // for the page: which path runs and why
}

// Pref reads ?webgpu=: "webgpu" (1, true, yes), "cpu" (0, false, no), else "".
func Pref(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return "webgpu"
	case "0", "false", "no":
		return "cpu"
	}
	return ""
}

// SoftwareRenderer names the software renderer behind an adapter, or
// returns "" for a hardware GPU.
func SoftwareRenderer(f AdapterFacts) string {
	info := strings.ToLower(f.Info)
	for _, n := range []struct{ key, name string }{
		{"swiftshader", "SwiftShader"}, {"llvmpipe", "llvmpipe"}, {"lavapipe", "lavapipe"},
		{"microsoft basic render", "Microsoft Basic Render Driver"}, {"software", "a software renderer"},
	} {
		if strings.Contains(info, n.key) {
			return n.name
		}
	}
	if f.Fallback {
		return "a software renderer"
	}
	return ""
}

// ChoosePath decides before any device is made. pref is Pref's answer.
func ChoosePath(pref string, f AdapterFacts) Path {
	soft := SoftwareRenderer(f)
	switch {
	case !f.HasWebGPU:
		return Path{Backend: "cpu", Line: "Running on the CPU (Go compiled to WebAssembly): this browser has no WebGPU."}
	case !f.Adapter:
		return Path{Backend: "cpu", Line: "Running on the CPU (Go compiled to WebAssembly): this browser has WebGPU but offered no graphics adapter."}
	case pref == "cpu":
		return Path{Backend: "cpu", Software: soft, Asked: true, Line: "Running on the CPU (Go compiled to WebAssembly), as asked."}
	case soft != "" && pref != "webgpu":
		return Path{Backend: "cpu", Software: soft, Line: "Running on the CPU (Go compiled to WebAssembly): this browser's WebGPU is " +
			softName(soft) + ", slower here than the CPU path."}
	case soft != "":
		return Path{Backend: "webgpu", Software: soft, Asked: true, Line: "Running on WebGPU, as asked: " + softName(soft) +
			", usually slower than the CPU path."}
	}
	return Path{Backend: "webgpu", Line: "Running on the GPU through WebGPU."}
}

// softName says what a renderer is: "SwiftShader, a software renderer".
func softName(s string) string {
	if strings.HasPrefix(s, "a ") {
		return s
	}
	return s + ", a software renderer"
}

// TooSmallLine is the line when the GPU is below novae's limits.
const TooSmallLine = "Running on the CPU (Go compiled to WebAssembly): this GPU's WebGPU limits are below what novae needs."

// LargeModelLine is the line when a model too large for the CPU path
// brings a software adapter back into use.
func LargeModelLine(soft string) string {
	return "Running on WebGPU (" + softName(soft) + "): this model is too large for the CPU path."
}
