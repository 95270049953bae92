//go:build !js

package main

import (
	"fmt"
	"io"
	"strings"
)

// target is one row of the speed issue's kernel table: what an H100 allows
// in f32 without tensor cores at SVG-XL's shapes.
type target struct {
	kernel, shape string  // a line's kernel and the start of its shape
	role          string  // the start of its note ("" any)
	rate          float64 // GFLOP/s, or GB/s for memory-bound lines
	what          string
}

var targets = []target{
	{"groupnorm", "B=1 C=128 H=W=256 G=32", "", 1500, "GroupNorm C=128 at 256²"},
	{"conv3x3", "B=1 C=512→512 H=W=16", "", 10000, "conv3x3 512→512 at 16²"},
	{"attention_nchw", "B=1 NH=1 T=256 HD=512", "", 10000, "decoder attention, one head of 512"},
	{"attention", "B=2 NH=16 T=256 HD=72", "", 20000, "DiT attention, 16 heads of 72"},
	{"matmul_f32", "M=512 K=1152 N=3456", "qkv", 30000, "DiT qkv"},
	{"matmul_f32", "M=512 K=1152 N=1152", "proj", 30000, "DiT proj"},
	{"matmul_f32", "M=512 K=1152 N=4608", "fc1", 30000, "DiT fc1"},
	{"matmul_f32", "M=512 K=4608 N=1152", "fc2", 30000, "DiT fc2"},
}

// printTargets prints, under the table, each target line's rate against
// its target (SVG-XL's shapes only: -small lines match none).
func printTargets(w io.Writer, rs []Result) {
	var out []string
	for _, t := range targets {
		for _, r := range rs {
			forced := strings.HasSuffix(r.Note, "]") // a "before" line (cases.go's forcing)
			if r.Kernel != t.kernel || !strings.HasPrefix(r.Shape, t.shape) || !strings.HasPrefix(r.Note, t.role) || forced || r.Error != "" || r.MS == 0 {
				continue
			}
			rate, unit := r.GFLOPS, "GFLOP/s"
			if t.kernel == "groupnorm" {
				rate, unit = r.GBS, "GB/s"
			}
			verdict := "below"
			if rate >= t.rate {
				verdict = "met"
			}
			v := ""
			if r.Variant != "" && r.Variant != "auto" {
				v = " [" + r.Variant + "]"
			}
			out = append(out, fmt.Sprintf("%-36s %10.0f %-8s target ≥ %6.0f  %s", t.what+v, rate, unit, t.rate, verdict))
		}
	}
	if len(out) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "kernel targets (H100-class GPU, f32, no tensor cores)")
	for _, l := range out {
		fmt.Fprintln(w, l)
	}
}
