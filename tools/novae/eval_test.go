package main

import (
	"encoding/json"
	"fmt"
	"image/png"
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
		"linear_probe.dino_class_token.test_accuracy", "linear_probe.dino_class_and_patches.test_accuracy",
		"linear_probe.knn.dino_class_token", "linear_probe.knn.pixels",
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
		"| real images |", "reconstruction PSNR", "DINO channels only", "linear probe, frozen DINO patch tokens mean-pooled (32-d)", "frozen DINO class token (32-d)", "class token and pooled patches (64-d)",
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

// readJSONMap reads a JSON file into nested maps.
func readJSONMap(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// jget walks a JSON value by keys and indices.
func jget(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("JSON: %v is not an object at %q", v, p)
			}
			if v, ok = m[p]; !ok {
				t.Fatalf("JSON lacks %q in %v", p, path)
			}
		case int:
			a, ok := v.([]any)
			if !ok || p >= len(a) {
				t.Fatalf("JSON: no index %d at %v", p, path)
			}
			v = a[p]
		}
	}
	return v
}

// TestEvalTwin: `novae eval -twin` on a tiny SVG model and a tiny VAE twin:
// compare.json holds both eval.json objects with the same seeds, the twin's
// PSNR without a DINO-only figure and its probes n/a, the Fréchet distance
// between the two sample sets, grids per model, and the comparison table.
func TestEvalTwin(t *testing.T) {
	w, data, clf := evalFixture(t)
	twin := filepath.Join(t.TempDir(), "twin.safetensors")
	if code, so, se := novae(t, "random", "-config", "../../model/eval/testdata/tiny32-vae.json", "-std", "0.05", "-q", "-out", twin); code != 0 {
		t.Fatalf("random: exit %d\n%s%s", code, so, se)
	}
	out := filepath.Join(t.TempDir(), "res", "compare.json")
	code, so, se := novae(t, "eval", "-weights", w, "-twin", twin, "-data", data, "-classifier", clf, "-steps", "1,2", "-n", "20",
		"-cfg", "3", "-batch", "10", "-real", "40", "-recon", "16", "-probe-train", "60", "-probe-test", "30", "-cols", "2", "-cpu", "-q",
		"-out", out)
	if code != 0 {
		t.Fatalf("eval -twin: exit %d\n%s%s", code, so, se)
	}
	t.Log(so)
	j := readJSONMap(t, out)
	if f := jget(t, j, "format"); f != "novae-eval-pair/1" {
		t.Errorf("format %v", f)
	}
	for i, want := range []string{"svg", "vae"} {
		m := jget(t, j, "models", i)
		if l := jget(t, m, "model", "latent"); l != want {
			t.Errorf("model %d latent %v, want %s", i, l, want)
		}
		if f := jget(t, m, "format"); f != "novae-eval/1" {
			t.Errorf("model %d format %v", i, f)
		}
		if p := jget(t, m, "reconstruction", "psnr_db").(float64); !(p > 0) {
			t.Errorf("model %d PSNR %v", i, p)
		}
		for k := range 4 {
			g := jget(t, m, "generation", k).(map[string]any)
			if s := fmt.Sprint(g["seeds"]); s != "[0 1]" {
				t.Errorf("model %d setting %d seeds %s, want [0 1]", i, k, s)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(out), g["grid"].(string))); err != nil {
				t.Error(err)
			}
		}
	}
	vae := jget(t, j, "models", 1).(map[string]any)
	if _, ok := vae["linear_probe"]; ok {
		t.Error("the VAE twin has linear probes")
	}
	if na, _ := vae["linear_probe_na"].(string); !strings.HasPrefix(na, "n/a") {
		t.Errorf("linear_probe_na %q", na)
	}
	if _, ok := jget(t, vae, "reconstruction").(map[string]any)["psnr_dino_only_db"]; ok {
		t.Error("the VAE twin has a DINO-only PSNR")
	}
	if _, ok := jget(t, j, "models", 0, "reconstruction").(map[string]any)["psnr_dino_only_db"]; !ok {
		t.Error("the SVG model lacks its DINO-only PSNR")
	}
	between := jget(t, j, "fd_between_models").([]any)
	if len(between) != 4 {
		t.Fatalf("%d fd_between_models", len(between))
	}
	for _, name := range []string{"compare_tiny32-random_s1_cfg3.png", "compare_tiny32-vae-random_s2_nocfg.png"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(out), name)); err != nil {
			t.Error(err)
		}
	}
	md := jget(t, j, "markdown").(string)
	for _, s := range []string{"| steps | accuracy tiny32-random, CFG 3 | accuracy tiny32-vae-random, CFG 3 |",
		"| reconstruction PSNR |", "| linear probe on the encoder's features |", "| n/a |"} {
		if !strings.Contains(md, s) {
			t.Errorf("table lacks %q:\n%s", s, md)
		}
	}
	// the twin is refused without a judge
	if code, _, _ := novae(t, "eval", "-weights", w, "-twin", twin, "-data", data, "-classifier", "none"); code != 2 {
		t.Errorf("-twin -classifier none: exit %d, want 2", code)
	}
}

// TestCurveCommand: `novae curve` on snapshots of a tiny VAE model and a
// tiny SVG model: the snapshot that holds the model's own DiT gives the
// FD novae eval measures on the model with the same settings; the plot is
// written.
func TestCurveCommand(t *testing.T) {
	_, data, clf := evalFixture(t)
	dir := t.TempDir()
	mk := func(cfg string, seed int, out string) {
		if code, so, se := novae(t, "random", "-config", "../../model/eval/testdata/"+cfg, "-seed", fmt.Sprint(seed), "-std", "0.05", "-q", "-out", out); code != 0 {
			t.Fatalf("random: exit %d\n%s%s", code, so, se)
		}
	}
	vaeBase, svgBase := filepath.Join(dir, "vae.safetensors"), filepath.Join(dir, "svg.safetensors")
	mk("tiny32-vae.json", 3, vaeBase)
	mk("tiny32.json", 3, svgBase)
	vs, ss := filepath.Join(dir, "vs"), filepath.Join(dir, "ss")
	for _, d := range []string{vs, ss} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, step := range []int{300, 100, 200} { // step 100 holds the model's own DiT (seed 3)
		mk("tiny32-vae.json", []int{5, 3, 4}[i], filepath.Join(vs, fmt.Sprintf("dit_step%d.safetensors", step)))
		mk("tiny32.json", []int{5, 3, 4}[i], filepath.Join(ss, fmt.Sprintf("dit_step%06d.safetensors", step)))
	}
	common := []string{"-data", data, "-classifier", clf, "-steps", "2", "-n", "20", "-cfg", "3", "-batch", "10", "-real", "40", "-cpu", "-q"}
	out := filepath.Join(dir, "res", "curve.json")
	args := append([]string{"curve", "-weights", svgBase, "-snapshots", ss, "-twin", vaeBase, "-twin-snapshots", vs, "-out", out}, common...)
	code, so, se := novae(t, args...)
	if code != 0 {
		t.Fatalf("curve: exit %d\n%s%s", code, so, se)
	}
	t.Log(so)
	ev := filepath.Join(dir, "eval.json")
	args = append([]string{"eval", "-weights", vaeBase, "-recon", "0", "-probe-train", "0", "-no-grids", "-out", ev}, common...)
	if code, so, se := novae(t, args...); code != 0 {
		t.Fatalf("eval: exit %d\n%s%s", code, so, se)
	}
	j, e := readJSONMap(t, out), readJSONMap(t, ev)
	want := jget(t, e, "generation", 1, "fd").(float64) // steps 2, CFG 3
	if c := jget(t, e, "generation", 1, "cfg").(float64); c != 3 {
		t.Fatalf("eval setting 1 has cfg %g", c)
	}
	for mi, name := range []string{"tiny32-random", "tiny32-vae-random"} {
		m := jget(t, j, "models", mi)
		if n := jget(t, m, "name"); n != name {
			t.Errorf("model %d is %v, want %s", mi, n, name)
		}
		pts := jget(t, m, "points").([]any)
		if len(pts) != 3 {
			t.Fatalf("model %d: %d points", mi, len(pts))
		}
		for k, step := range []float64{100, 200, 300} {
			if s := jget(t, pts[k], "step").(float64); s != step {
				t.Errorf("model %d point %d: step %g, want %g", mi, k, s, step)
			}
			if g := jget(t, pts[k], "generation").([]any); len(g) != 1 {
				t.Errorf("model %d point %d: %d settings, want 1 (guided only)", mi, k, len(g))
			}
		}
	}
	got := jget(t, j, "models", 1, "points", 0, "generation", 0, "fd").(float64)
	t.Logf("VAE model's own DiT as the step-100 snapshot: FD %.6f; novae eval on the model: %.6f", got, want)
	if got != want {
		t.Errorf("curve FD %g, eval FD %g", got, want)
	}
	f, err := os.Open(filepath.Join(dir, "res", "curve.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 640 || img.Bounds().Dy() != 360 {
		t.Fatalf("plot %v %v", img.Bounds(), err)
	}
	md := jget(t, j, "markdown").(string)
	if !strings.Contains(md, "| DiT training step | FD tiny32-random, 2 steps | FD tiny32-vae-random, 2 steps |") || !strings.Contains(md, "| 300 |") {
		t.Errorf("table:\n%s", md)
	}
	if code, _, _ := novae(t, "curve", "-weights", svgBase, "-snapshots", ss, "-twin", vaeBase, "-data", data); code != 2 {
		t.Errorf("-twin without -twin-snapshots: exit %d, want 2", code)
	}
}
