package eval

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"novae/model/convert"
	"novae/model/weights"
)

// TestCheckPairsTiny: TestShippedModels' pair check on a made-up tree: a
// tiny SVG model and its tiny VAE twin shipped as sharded sets, measured by
// RunPair and recorded as compare.json with the field names novae eval
// -twin writes; the check re-draws both at 1 guided step and finds the
// recorded accuracies.
func TestCheckPairsTiny(t *testing.T) {
	root := t.TempDir()
	ship := func(cfgPath, dir string) string {
		cfg, err := convert.LoadConfig(cfgPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := convert.Metadata(cfg, nil, nil, nil)
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		man, err := weights.WriteSharded(filepath.Join(root, dir), "model", convert.Random(cfg, 3, 0.05), meta, 0)
		if err != nil {
			t.Fatal(err)
		}
		return man
	}
	svgMan, vaeMan := ship("testdata/tiny32.json", "models/tiny"), ship("testdata/tiny32-vae.json", "models/tiny/vae")
	clfRel := "tools/eval/classifier_synth.safetensors"
	if err := os.MkdirAll(filepath.Join(root, "tools", "eval"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteRandomClassifier(filepath.Join(root, clfRel), ClassifierArch{InChannels: 1, Size: 32, Channels: []int{4, 8}, Hidden: 16, Classes: 10}, 1); err != nil {
		t.Fatal(err)
	}
	c, err := LoadClassifier(filepath.Join(root, clfRel))
	if err != nil {
		t.Fatal(err)
	}
	_, _, ds, _ := pairFixture(t, FastCPU{})
	b := FastCPU{}
	o := pairOptions(openModel(t, b, svgMan), b, ds, c)
	o.Steps, o.ReconN, o.ProbeTrain = []int{1}, 0, 0
	p, err := RunPair(o, openModel(t, b, vaeMan))
	if err != nil {
		t.Fatal(err)
	}
	type member struct {
		Format string `json:"format"`
		Model  struct {
			Weights string `json:"weights"`
			SHA256  string `json:"sha256"`
			Name    string `json:"name"`
			Latent  string `json:"latent"`
		} `json:"model"`
		Settings struct {
			Seed     uint64  `json:"seed"`
			CFG      float64 `json:"cfg"`
			Shift    float64 `json:"shift"`
			Schedule string  `json:"schedule"`
			Batch    int     `json:"batch"`
		} `json:"settings"`
		*Report
	}
	rec := struct {
		Format string   `json:"format"`
		Models []member `json:"models"`
	}{Format: "novae-eval-pair/1"}
	for i, man := range []string{svgMan, vaeMan} {
		r := []*Report{p.A, p.B}[i]
		r.Classifier.Path = clfRel
		m := member{Format: "novae-eval/1", Report: r}
		rel, _ := filepath.Rel(root, man)
		raw, _ := os.ReadFile(man)
		m.Model.Weights, m.Model.SHA256, m.Model.Latent = rel, fmt.Sprintf("%x", sha256.Sum256(raw)), []string{"svg", "vae"}[i]
		m.Settings.Seed, m.Settings.CFG, m.Settings.Shift, m.Settings.Schedule, m.Settings.Batch = o.Seed, o.CFG, o.Shift, "constant", o.Batch
		rec.Models = append(rec.Models, m)
	}
	js, _ := json.Marshal(rec)
	if err := os.MkdirAll(filepath.Join(root, "models", "tiny", "eval"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "models", "tiny", "eval", "compare.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	checkPairs(t, root, []int{1})
}
