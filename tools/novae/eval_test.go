package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"novae/model/eval"
)

// evalFixture writes a tiny random model (digits-shaped: 32², 10 classes),
// a synthetic data set and a random classifier.
func evalFixture(t *testing.T) (weightsPath, data, clf string) {
	t.Helper()
	dir := t.TempDir()
	weightsPath = filepath.Join(dir, "tiny32.safetensors")
	if code, so, se := novae(t, "random", "-config", "../../model/eval/testdata/tiny32.json", "-std", "0.05", "-q", "-out", weightsPath); code != 0 {
		t.Fatalf("random: exit %d\n%s%s", code, so, se)
	}
	data = filepath.Join(dir, "synth")
	if err := eval.WriteSyntheticDataset(data, 10, 32, 1, 100, 60, 1); err != nil {
		t.Fatal(err)
	}
	clf = filepath.Join(dir, "clf.safetensors")
	if err := eval.WriteRandomClassifier(clf, eval.ClassifierArch{InChannels: 1, Size: 32, Channels: []int{4, 8}, Hidden: 16, Classes: 10}, 1); err != nil {
		t.Fatal(err)
	}
	return
}

// TestEvalCommand: `novae eval` end to end on the CPU: the JSON has every
// field, the Markdown table every row, one grid per setting exists.
func TestEvalCommand(t *testing.T) {
	w, data, clf := evalFixture(t)
	out := filepath.Join(t.TempDir(), "res", "eval.json")
	md := filepath.Join(filepath.Dir(out), "eval.md")
	code, so, se := novae(t, "eval", "-weights", w, "-data", data, "-classifier", clf, "-steps", "1,2", "-n", "20", "-cfg", "3",
		"-batch", "10", "-real", "40", "-recon", "16", "-probe-train", "60", "-probe-test", "30", "-cols", "2", "-cpu", "-q",
		"-out", out, "-md", md)
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s%s", code, so, se)
	}
	t.Log(so)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = j
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Errorf("JSON: %s: %s is not an object", path, k)
				return nil
			}
			if v, ok = m[k]; !ok {
				t.Errorf("JSON lacks %s", path)
				return nil
			}
		}
		return v
	}
	for _, k := range []string{"format", "date", "model.weights", "model.sha256", "model.name", "model.image", "model.classes",
		"settings.seed", "settings.n", "settings.steps", "settings.cfg", "settings.shift", "settings.schedule", "settings.backend",
		"settings.backend_choice", "settings.real_n", "settings.seconds", "feature_space", "classifier.sha256",
		"classifier.test_accuracy_pytorch", "classifier.real_heldout_accuracy_go", "real_reference.fd_train_vs_heldout",
		"reconstruction.psnr_db", "reconstruction.psnr_dino_only_db", "reconstruction.note",
		"linear_probe.dino.test_accuracy", "linear_probe.residual.test_accuracy", "linear_probe.pixels.test_accuracy",
		"linear_probe.note", "timing_s.total", "timing_s.generation", "markdown"} {
		get(k)
	}
	if s, _ := get("model.sha256").(string); len(s) != 64 {
		t.Errorf("weights sha256 %q", s)
	}
	if b, _ := get("settings.backend").(string); !strings.HasPrefix(b, "cpu (pure Go") {
		t.Errorf("backend %q", b)
	}
	gen, _ := get("generation").([]any)
	if len(gen) != 4 {
		t.Fatalf("%d generation results, want 4", len(gen))
	}
	for _, g := range gen {
		g := g.(map[string]any)
		for _, k := range []string{"steps", "cfg", "n", "accuracy", "per_class_accuracy", "fd", "seconds", "grid"} {
			if _, ok := g[k]; !ok {
				t.Errorf("generation result lacks %s: %v", k, g)
			}
		}
		if fd, _ := g["fd"].(float64); math.IsNaN(fd) {
			t.Errorf("fd %v", g["fd"])
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(out), g["grid"].(string))); err != nil {
			t.Error(err)
		}
	}
	for _, name := range []string{"eval_s1_nocfg.png", "eval_s1_cfg3.png", "eval_s2_nocfg.png", "eval_s2_cfg3.png"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(out), name)); err != nil {
			t.Error(err)
		}
	}
	table, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| steps | class accuracy, no CFG | class accuracy, CFG 3 | FD, no CFG | FD, CFG 3 |", "| 1 |", "| 2 |",
		"| real images |", "reconstruction PSNR", "DINO channels only", "linear probe, frozen DINO features (32-d)",
		"residual branch alone (8-d)", "raw pixels (1024-d)"} {
		if !strings.Contains(string(table), s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
	if !strings.Contains(so, string(table)) {
		t.Error("the table is not printed")
	}
}

// TestEvalGPUMatchesCPU: the same evaluation on WebGPU gives the same
// numbers as the pure-Go path (to float rounding through the 8-bit images).
func TestEvalGPUMatchesCPU(t *testing.T) {
	w, data, clf := evalFixture(t)
	res := map[string]map[string]any{}
	for _, dev := range []string{"-cpu", "-gpu"} {
		out := filepath.Join(t.TempDir(), "eval.json")
		code, so, se := novae(t, "eval", "-weights", w, "-data", data, "-classifier", clf, "-steps", "2", "-n", "10", "-cfg", "3",
			"-real", "20", "-recon", "8", "-probe-train", "0", "-no-grids", "-q", "-out", out, dev)
		if code != 0 {
			if dev == "-gpu" && strings.Contains(se, "adapter") {
				t.Skipf("no WebGPU: %s", se)
			}
			t.Fatalf("eval %s: exit %d\n%s%s", dev, code, so, se)
		}
		raw, _ := os.ReadFile(out)
		var j map[string]any
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatal(err)
		}
		res[dev] = j
	}
	num := func(j map[string]any, path ...any) float64 {
		var v any = j
		for _, p := range path {
			switch p := p.(type) {
			case string:
				v = v.(map[string]any)[p]
			case int:
				v = v.([]any)[p]
			}
		}
		return v.(float64)
	}
	c, g := res["-cpu"], res["-gpu"]
	t.Logf("backends: %v / %v", c["settings"].(map[string]any)["backend"], g["settings"].(map[string]any)["backend"])
	for i := range 2 {
		fc, fg := num(c, "generation", i, "fd"), num(g, "generation", i, "fd")
		if math.Abs(fc-fg) > 0.02*math.Max(1, math.Abs(fc)) {
			t.Errorf("setting %d: FD %g on CPU, %g on GPU", i, fc, fg)
		}
		if ac, ag := num(c, "generation", i, "accuracy"), num(g, "generation", i, "accuracy"); math.Abs(ac-ag) > 0.1001 {
			t.Errorf("setting %d: accuracy %g on CPU, %g on GPU", i, ac, ag)
		}
	}
	if pc, pg := num(c, "reconstruction", "psnr_db"), num(g, "reconstruction", "psnr_db"); math.Abs(pc-pg) > 1e-3 {
		t.Errorf("PSNR %g on CPU, %g on GPU", pc, pg)
	}
}

func TestEvalUsage(t *testing.T) {
	for _, args := range [][]string{
		{"eval"},
		{"eval", "-weights", "x", "-data", "y", "-steps", "0"},
		{"eval", "-weights", "x", "-data", "y", "-cpu", "-gpu"},
		{"eval", "-weights", "x", "-data", "y", "-n", "-1"},
	} {
		if code, _, _ := novae(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
