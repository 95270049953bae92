package eval

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"novae/model"
	"novae/model/weights"
)

// TestShippedModels checks every model under models/ as `make run` serves
// it: its shards match the manifest, the weights carry the card's name,
// classes and sampler defaults, its eval.json was measured on these very
// weights, and the guided 4-step class accuracy recorded there comes out
// again when the same samples are drawn and judged here (no data set
// needed: the samples come from seeded noise, the judge is committed).
func TestShippedModels(t *testing.T) {
	mans, _ := filepath.Glob(filepath.Join("..", "..", "models", "*", "model.json"))
	if len(mans) == 0 {
		t.Fatal("no shipped model under models/")
	}
	for _, man := range mans {
		dir := filepath.Dir(man)
		t.Run(filepath.Base(dir), func(t *testing.T) { checkShipped(t, dir, man) })
	}
}

type shippedCard struct {
	Name     string               `json:"name"`
	Classes  []string             `json:"classes"`
	Defaults model.SampleDefaults `json:"defaults"`
}

type shippedEval struct {
	Model struct {
		SHA256 string `json:"sha256"`
	} `json:"model"`
	Settings struct {
		Seed     uint64  `json:"seed"`
		CFG      float64 `json:"cfg"`
		Shift    float64 `json:"shift"`
		Schedule string  `json:"schedule"`
		Batch    int     `json:"batch"`
	} `json:"settings"`
	Classifier struct {
		SHA256 string `json:"sha256"`
	} `json:"classifier"`
	Generation []GenResult `json:"generation"`
}

func checkShipped(t *testing.T, dir, man string) {
	f, err := weights.Open(man)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Verify(); err != nil {
		t.Fatalf("shards: %v", err)
	}
	cfg, err := model.ParseConfig(f.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	var card shippedCard
	readJSON(t, filepath.Join(dir, "card.json"), &card)
	if cfg.Name != card.Name || !reflect.DeepEqual(cfg.Classes, card.Classes) || cfg.Defaults != card.Defaults {
		t.Errorf("weights say %q %q %+v; card.json says %q %q %+v", cfg.Name, cfg.Classes, cfg.Defaults, card.Name, card.Classes, card.Defaults)
	}
	var ev shippedEval
	readJSON(t, filepath.Join(dir, "eval", "eval.json"), &ev)
	raw, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(raw))
	if ev.Model.SHA256 != sum {
		t.Fatalf("eval/eval.json measured weights %s…, the manifest is %s…: rerun novae eval", short(ev.Model.SHA256), short(sum))
	}
	var rec *GenResult
	for i, g := range ev.Generation {
		if g.Steps == 4 && g.CFG == ev.Settings.CFG && ev.Settings.CFG > 1 {
			rec = &ev.Generation[i]
		}
	}
	if rec == nil || rec.Accuracy == nil {
		t.Fatal("eval.json has no guided 4-step class accuracy")
	}

	clfPath := filepath.Join("..", "..", "tools", "eval", "classifier_"+card.Name+".safetensors")
	clf, err := LoadClassifier(clfPath)
	if err != nil {
		t.Fatal(err)
	}
	if clf.SHA256 != ev.Classifier.SHA256 {
		t.Fatalf("eval.json was judged by classifier %s…, %s is %s…", short(ev.Classifier.SHA256), clfPath, short(clf.SHA256))
	}
	b := FastCPU{}
	m, err := model.Open(b, model.FileSource{F: f}, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := model.ParseSchedule(ev.Settings.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Model: m, Backend: b, Data: &Dataset{Classes: cfg.Classes, Test: Split{Images: Images{C: clf.Arch.InChannels}}},
		N: rec.N, CFG: rec.CFG, Shift: ev.Settings.Shift, Schedule: sched, Seed: ev.Settings.Seed, Batch: ev.Settings.Batch}
	im, labels, err := o.generate(rec.Steps, rec.CFG)
	if err != nil {
		t.Fatal(err)
	}
	out, err := clf.Run(im, runtime.GOMAXPROCS(0))
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := accuracy(out.Predictions(len(cfg.Classes)), labels, len(cfg.Classes))
	// The same backend and seeds give the same samples; the margin only
	// covers float differences between CPUs (a sample or two flipping).
	t.Logf("%s: 4 steps, CFG %g: class accuracy %.1f%% here, %.1f%% in eval.json (n = %d)", card.Name, rec.CFG, 100*acc, 100**rec.Accuracy, rec.N)
	if math.Abs(acc-*rec.Accuracy) > 0.025 {
		t.Errorf("class accuracy %.3f, eval.json records %.3f", acc, *rec.Accuracy)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func short(s string) string { return s[:min(12, len(s))] }
