package eval

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"novae/model"
)

// TestRunTiny: the whole evaluation on a tiny random model and a synthetic
// digits-shaped data set: every part reports, numbers are finite, grids
// have one row per class.
func TestRunTiny(t *testing.T) {
	clfPath := filepath.Join(t.TempDir(), "clf.safetensors")
	if err := WriteRandomClassifier(clfPath, ClassifierArch{InChannels: 1, Size: 32, Channels: []int{4, 8}, Hidden: 16, Classes: 10}, 1); err != nil {
		t.Fatal(err)
	}
	c, err := LoadClassifier(clfPath)
	if err != nil {
		t.Fatal(err)
	}
	b := FastCPU{}
	m := openModel(t, b, randomModel(t, "testdata/tiny32.json", 0.05))
	// grey data judged by a classifier; RGB data without one (FD in DINO features)
	for _, channels := range []int{1, 3} {
		clf := c
		if channels == 3 {
			clf = nil
		}
		dir := filepath.Join(t.TempDir(), "synth")
		if err := WriteSyntheticDataset(dir, 10, 32, channels, 120, 60, 1); err != nil {
			t.Fatal(err)
		}
		ds, err := LoadDataset(dir)
		if err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		r, err := Run(Options{Model: m, Backend: b, Data: ds, Classifier: clf, Steps: []int{1, 3}, N: 20, CFG: 3, Shift: 0.3,
			Batch: 8, RealN: 50, ReconN: 20, ReconBatch: 8, ProbeTrain: 100, ProbeTest: 40, GridCols: 2, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(log.String())
		if len(r.Generation) != 4 || len(r.Grids) != 4 {
			t.Fatalf("%d results, %d grids, want 4", len(r.Generation), len(r.Grids))
		}
		for i, g := range r.Generation {
			if g.Steps != []int{1, 1, 3, 3}[i] || g.CFG != []float64{1, 3, 1, 3}[i] || g.N != 20 || math.IsNaN(g.FD) || g.FD < -1e-6 {
				t.Errorf("setting %d: %+v", i, g)
			}
			if (g.Accuracy != nil) != (clf != nil) || (clf != nil && len(g.PerClass) != 10) {
				t.Errorf("setting %d: accuracy %v per class %v", i, g.Accuracy, g.PerClass)
			}
			gr := r.Grids[i]
			if gr.Rows != 10 || gr.Cols != 2 || gr.Images.N != 20 || gr.Images.H != 32 {
				t.Errorf("grid %d: %d×%d of %d images", i, gr.Rows, gr.Cols, gr.Images.N)
			}
		}
		if clf != nil && (r.Classifier == nil || !strings.Contains(r.FeatureSpace, "classifier")) {
			t.Errorf("classifier run: %q, %+v", r.FeatureSpace, r.Classifier)
		}
		if clf == nil && (r.Classifier != nil || !strings.Contains(r.FeatureSpace, "NOT independent")) {
			t.Errorf("no-classifier run: %q", r.FeatureSpace)
		}
		rc := r.Reconstruction
		if rc == nil || rc.N != 20 || !(rc.PSNR > 0) || rc.PSNRDinoOnly == nil || !(*rc.PSNRDinoOnly > 0) {
			t.Errorf("reconstruction %+v", rc)
		}
		p := r.Probe
		if p == nil || p.Dino.Dim != 32 || p.Residual.Dim != 8 || p.Pixels.Dim != []int{0, 1024, 0, 768}[channels] || p.Dino.TrainN != 100 || p.Dino.TestN != 40 {
			t.Fatalf("probes %+v", p)
		}
		// The synthetic classes are squares at different places: raw pixels separate them.
		if p.Pixels.TestAcc < 0.9 {
			t.Errorf("pixel probe on synthetic data: %.3f", p.Pixels.TestAcc)
		}
		if p.DinoClass == nil || p.DinoClass.Dim != 32 || p.DinoBoth == nil || p.DinoBoth.Dim != 64 || p.DinoBoth.TestN != 40 {
			t.Errorf("class-token probes %+v %+v", p.DinoClass, p.DinoBoth)
		}
		// kNN of pixels on squares at different places is as easy as the probe.
		if k := p.KNN; k == nil || k.K != 20 || k.Pixels < 0.9 || k.Dino < 0 || k.DinoClass > 1 {
			t.Errorf("kNN %+v", k)
		}
		if r.Real.HeldoutN != 50 || r.Real.FloorN != 20 || math.IsNaN(r.Real.FDTrainVsHeldout) {
			t.Errorf("real reference %+v", r.Real)
		}
	}
}

// TestRunErrors: mismatched data sets are refused before any work.
func TestRunErrors(t *testing.T) {
	ds := synthData(t, 5, 32, 1, 10, 10, 1)
	b := model.CPU{}
	m := openModel(t, b, randomModel(t, "testdata/tiny32.json", 0.05))
	if _, err := Run(Options{Model: m, Backend: b, Data: ds, Steps: []int{1}, N: 2}); err == nil || !strings.Contains(err.Error(), "5 classes") {
		t.Errorf("5-class data set on a 10-class model: %v", err)
	}
}

// TestEncodePooledClassOptional: the Fréchet path asks for the patch tokens
// only; they must be those of the probe path, which reads the class token too.
func TestEncodePooledClassOptional(t *testing.T) {
	b := FastCPU{}
	m := openModel(t, b, randomModel(t, "testdata/tiny32.json", 0.05))
	ds := synthData(t, 10, 32, 3, 12, 6, 1)
	o := Options{Model: m, Backend: b, ReconBatch: 5}
	only, err := o.encodePooled(ds.Train.Images, false, false)
	if err != nil {
		t.Fatal(err)
	}
	all, err := o.encodePooled(ds.Train.Images, true, true)
	if err != nil {
		t.Fatal(err)
	}
	D := m.Dino.Cfg.Dim
	if len(only.cls) != 0 || len(only.resid) != 0 || len(only.dino) != 12*D || len(all.cls) != 12*D || len(all.resid) != 12*m.Residual.Cfg.OutDim {
		t.Fatalf("sizes: dino %d cls %d resid %d; with class token and residual: cls %d resid %d",
			len(only.dino), len(only.cls), len(only.resid), len(all.cls), len(all.resid))
	}
	if !reflect.DeepEqual(only.dino, all.dino) {
		t.Errorf("pooled patch tokens differ without the class token")
	}
}
