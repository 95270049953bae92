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
// A shipped VAE-latent twin is checked with its SVG model from the pair's
// recorded comparison, models/<name>/eval/compare.json (subtest "pairs",
// which says so in its log when no twin is shipped).
func TestShippedModels(t *testing.T) {
	mans, _ := filepath.Glob(filepath.Join("..", "..", "models", "*", "model.json"))
	if len(mans) == 0 {
		t.Fatal("no shipped model under models/")
	}
	for _, man := range mans {
		dir := filepath.Dir(man)
		t.Run(filepath.Base(dir), func(t *testing.T) { checkShipped(t, dir, man) })
	}
	t.Run("pairs", func(t *testing.T) { checkPairs(t, filepath.Join("..", ".."), pairSteps) })
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
	if cfg.LatentKind() == model.LatentVAE {
		t.Logf("%s is a VAE-latent twin: checked with its pair (TestShippedModels/pairs)", man)
		return
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
	redraw(t, f, cfg, clf, ev, *rec)
}

// redraw draws one recorded setting again (FastCPU, the recorded seed,
// batch and sampler settings), judges it with clf and checks the recorded
// class accuracy. The same backend and seeds give the same samples; the
// margin only covers float differences between CPUs (a sample or two
// flipping).
func redraw(t *testing.T, f *weights.File, cfg model.Config, clf *Classifier, ev shippedEval, rec GenResult) {
	t.Helper()
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
	t.Logf("%s: %d steps, CFG %g: class accuracy %.1f%% here, %.1f%% recorded (n = %d)", cfg.Name, rec.Steps, rec.CFG, 100*acc, 100**rec.Accuracy, rec.N)
	if math.Abs(acc-*rec.Accuracy) > 0.025 {
		t.Errorf("%s, %d steps, CFG %g: class accuracy %.3f, recorded %.3f", cfg.Name, rec.Steps, rec.CFG, acc, *rec.Accuracy)
	}
}

// shippedPair is a recorded comparison, models/<name>/eval/compare.json
// (novae eval -twin): each model's eval.json object.
type shippedPair struct {
	Format string `json:"format"`
	Models []struct {
		shippedEval
		Model struct {
			Weights string `json:"weights"`
			SHA256  string `json:"sha256"`
			Name    string `json:"name"`
			Latent  string `json:"latent"`
		} `json:"model"`
		Classifier struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
		} `json:"classifier"`
	} `json:"models"`
}

// pairSteps are the guided settings re-drawn for both models of a pair.
var pairSteps = []int{1, 4}

// checkPairs: every shipped VAE-latent twin under root/models has a
// recorded comparison, and every recorded comparison is re-drawn for both
// models at the guided settings of pairSteps (same seeds for both, as
// recorded), from the very weights it measured.
func checkPairs(t *testing.T, root string, pairSteps []int) {
	var twins []string
	for _, pat := range []string{"models/*/model.json", "models/*/*/model.json"} {
		mans, _ := filepath.Glob(filepath.Join(root, pat))
		for _, man := range mans {
			f, err := weights.Open(man)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := model.ParseConfig(f.Metadata())
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", man, err)
			}
			if cfg.LatentKind() == model.LatentVAE {
				twins = append(twins, filepath.Clean(man))
			}
		}
	}
	pairs, _ := filepath.Glob(filepath.Join(root, "models", "*", "eval", "compare.json"))
	if len(pairs) == 0 && len(twins) == 0 {
		t.Log("no twin shipped: no VAE-latent model under models/ and no models/*/eval/compare.json, so there is no pair to check")
		return
	}
	covered := map[string]bool{}
	for _, pf := range pairs {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(pf))), func(t *testing.T) {
			var p shippedPair
			readJSON(t, pf, &p)
			if p.Format != "novae-eval-pair/1" || len(p.Models) != 2 {
				t.Fatalf("%s: format %q with %d models, want novae-eval-pair/1 with 2", pf, p.Format, len(p.Models))
			}
			for _, m := range p.Models {
				if filepath.IsAbs(m.Model.Weights) {
					t.Fatalf("%s names %s: rerun novae eval -twin from the repository root with relative paths", pf, m.Model.Weights)
				}
				covered[filepath.Clean(filepath.Join(root, m.Model.Weights))] = true
			}
			for i, m := range p.Models {
				man := filepath.Join(root, m.Model.Weights)
				f, err := weights.Open(man)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := f.Verify(); err != nil {
					t.Fatalf("%s shards: %v", man, err)
				}
				raw, err := os.ReadFile(man)
				if err != nil {
					t.Fatal(err)
				}
				if sum := fmt.Sprintf("%x", sha256.Sum256(raw)); sum != m.Model.SHA256 {
					t.Fatalf("%s measured %s %s…, it is now %s…: rerun novae eval -twin", pf, man, short(m.Model.SHA256), short(sum))
				}
				cfg, err := model.ParseConfig(f.Metadata())
				if err != nil {
					t.Fatal(err)
				}
				if cfg.LatentKind() != m.Model.Latent {
					t.Errorf("%s: latent %s, recorded %s", man, cfg.LatentKind(), m.Model.Latent)
				}
				clf, err := LoadClassifier(filepath.Join(root, m.Classifier.Path))
				if err != nil {
					t.Fatal(err)
				}
				if clf.SHA256 != m.Classifier.SHA256 || m.Classifier.SHA256 != p.Models[0].Classifier.SHA256 {
					t.Fatalf("%s: judged by %s…, %s is %s… (and the pair must share its judge)", pf, short(m.Classifier.SHA256), m.Classifier.Path, short(clf.SHA256))
				}
				for _, steps := range pairSteps {
					var rec *GenResult
					for k, g := range m.Generation {
						if g.Steps == steps && g.CFG == m.Settings.CFG && g.CFG > 1 {
							rec = &m.Generation[k]
							o := p.Models[0].Generation[k]
							if o.Steps != g.Steps || o.CFG != g.CFG || fmt.Sprint(o.Seeds) != fmt.Sprint(g.Seeds) {
								t.Errorf("%s: setting %d drew seeds %v for %s and %v for %s", pf, k, o.Seeds, p.Models[0].Model.Name, g.Seeds, m.Model.Name)
							}
						}
					}
					if rec == nil || rec.Accuracy == nil {
						t.Fatalf("%s: model %d has no guided %d-step class accuracy", pf, i, steps)
					}
					redraw(t, f, cfg, clf, m.shippedEval, *rec)
				}
			}
		})
	}
	for _, tw := range twins {
		if !covered[tw] {
			t.Errorf("%s is a VAE-latent twin without a recorded comparison: run novae eval -weights <its SVG model> -twin %s -out models/<name>/eval/compare.json", tw, tw)
		}
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
