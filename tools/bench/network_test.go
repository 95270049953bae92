//go:build !js

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"novae/model"
)

// TestRandSource: the random weights cover exactly what model.Open loads for
// every network line's config (names and shapes), without loading anything.
func TestRandSource(t *testing.T) {
	for _, name := range []string{"svg-xl", "emoji", "digits"} {
		for _, small := range []bool{false, true} {
			cfg := netConfig(name, small)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			src := newRandSource(cfg, "f32")
			if err := model.Check(src, "", model.Skeleton(cfg, false).Params()); err != nil {
				t.Errorf("%s (small %v): %v", name, small, err)
			}
		}
	}
}

// TestFLOP pins the FLOP counts the rates use (tools/torchbench/bench.py
// computes the same; compare.py checks they agree).
func TestFLOP(t *testing.T) {
	xl := netConfig("svg-xl", false)
	dit := ditFLOP(xl.DiT, 2)
	// per block: qkv 4.077e9 + proj 1.359e9 + fc1 5.436e9 + fc2 5.436e9 + attention 0.604e9 + adaLN 0.0319e9
	if dit < 4.70e11 || dit > 4.80e11 {
		t.Errorf("SVG-XL CFG step: %.4g FLOP, want about 4.75e11", dit)
	}
	dec := decoderFLOP(xl.Decoder, 1)
	if dec < 1e11 || dec > 1e12 {
		t.Errorf("SVG decoder at 256²: %.4g FLOP", dec)
	}
	t.Logf("SVG-XL CFG step %.4g FLOP, decoder 256² %.4g FLOP", dit, dec)
}

// TestSmallModelsAreShipped: the emoji and digits lines time exactly the
// networks that ship (models/<name>/model.json, which tools/torchbench
// reads too), so novae's and PyTorch's figures count the same FLOP.
func TestSmallModelsAreShipped(t *testing.T) {
	for _, name := range []string{"emoji", "digits"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "models", name, "model.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Metadata map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		shipped, err := model.ParseConfig(m.Metadata)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := netConfig(name, false)
		if !reflect.DeepEqual(got.DiT, shipped.DiT) || !reflect.DeepEqual(got.Decoder, shipped.Decoder) {
			t.Errorf("%s: bench times DiT %+v, decoder %+v; the shipped model is DiT %+v, decoder %+v",
				name, got.DiT, got.Decoder, shipped.DiT, shipped.Decoder)
		}
		t.Logf("%s: CFG step %.4g FLOP, decoder %.4g FLOP", name, ditFLOP(got.DiT, 2), decoderFLOP(got.Decoder, 1))
	}
}

// TestPrintTargets: the target lines find their table lines by kernel,
// shape and role, and say whether each rate reaches its target.
func TestPrintTargets(t *testing.T) {
	rs := []Result{
		{Kernel: "groupnorm", Shape: "B=1 C=128 H=W=256 G=32", MS: 0.04, GBS: 1677},
		{Kernel: "matmul_f32", Shape: "M=512 K=1152 N=3456", Note: "qkv (bias)", MS: 0.2, GFLOPS: 20142},
		{Kernel: "matmul_f32", Shape: "M=2 K=1152 N=6912", Note: "adaLN (bias)", MS: 0.01, GFLOPS: 1},
		{Kernel: "conv3x3", Shape: "B=1 C=64→64 H=W=16", MS: 1, GFLOPS: 1}, // -small: no target
	}
	var b strings.Builder
	printTargets(&b, rs)
	got := b.String()
	for _, want := range []string{"GroupNorm C=128 at 256²", "1677 GB/s", "met", "DiT qkv", "20142 GFLOP/s", "below"} {
		if !strings.Contains(got, want) {
			t.Errorf("targets table lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "target ≥"); n != 2 {
		t.Errorf("%d target lines, want 2:\n%s", n, got)
	}
}
