package eval

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"novae/model"
	"novae/model/convert"
	"novae/model/weights"
)

// pairFixture: a tiny random SVG model, its tiny random VAE-latent twin
// (both 32², 10 classes), a grey synthetic data set and a random judge.
func pairFixture(t *testing.T, b model.Backend) (svg, vae *model.SVG, ds *Dataset, c *Classifier) {
	t.Helper()
	clfPath := filepath.Join(t.TempDir(), "clf.safetensors")
	if err := WriteRandomClassifier(clfPath, ClassifierArch{InChannels: 1, Size: 32, Channels: []int{4, 8}, Hidden: 16, Classes: 10}, 1); err != nil {
		t.Fatal(err)
	}
	c, err := LoadClassifier(clfPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "synth")
	if err := WriteSyntheticDataset(dir, 10, 32, 1, 100, 60, 1); err != nil {
		t.Fatal(err)
	}
	if ds, err = LoadDataset(dir); err != nil {
		t.Fatal(err)
	}
	svg = openModel(t, b, randomModel(t, "testdata/tiny32.json", 0.05))
	vae = openModel(t, b, randomModel(t, "testdata/tiny32-vae.json", 0.05))
	return svg, vae, ds, c
}

func pairOptions(m *model.SVG, b model.Backend, ds *Dataset, c *Classifier) Options {
	return Options{Model: m, Backend: b, Data: ds, Classifier: c, Steps: []int{1, 2}, N: 23, CFG: 3, Shift: 0.3,
		Batch: 10, RealN: 40, ReconN: 12, ReconBatch: 5, ProbeTrain: 60, ProbeTest: 30, GridCols: 2}
}

// TestRunPair: an SVG model and its VAE twin draw the same seeds and
// classes at every setting, see the same real reference, and the twin's
// reconstruction PSNR equals an independent round trip through the
// float64 reference backend with the PSNR computed here.
func TestRunPair(t *testing.T) {
	b := FastCPU{}
	svg, vae, ds, c := pairFixture(t, b)
	var log strings.Builder
	o := pairOptions(svg, b, ds, c)
	o.Log = &log
	p, err := RunPair(o, vae)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	if len(p.A.Generation) != 4 || len(p.B.Generation) != 4 || len(p.Between) != 4 {
		t.Fatalf("%d / %d / %d settings, want 4", len(p.A.Generation), len(p.B.Generation), len(p.Between))
	}
	for i, ga := range p.A.Generation {
		gb := p.B.Generation[i]
		if !slices.Equal(ga.Seeds, []uint64{0, 1, 2}) || !slices.Equal(gb.Seeds, ga.Seeds) {
			t.Errorf("setting %d: seeds %v / %v, want [0 1 2] for both (23 images in batches of 10)", i, ga.Seeds, gb.Seeds)
		}
		for j, l := range ga.Labels {
			if l != j%10 || gb.Labels[j] != l {
				t.Fatalf("setting %d image %d: classes %d / %d, want %d", i, j, l, gb.Labels[j], j%10)
			}
		}
		if len(ga.Labels) != 23 || len(gb.Labels) != 23 {
			t.Errorf("setting %d: %d / %d labels", i, len(ga.Labels), len(gb.Labels))
		}
		bw := p.Between[i]
		if bw.Steps != ga.Steps || bw.CFG != ga.CFG || !(bw.FD > 0) || math.IsInf(bw.FD, 0) {
			t.Errorf("setting %d: between %+v", i, bw)
		}
		if ga.Accuracy == nil || gb.Accuracy == nil {
			t.Errorf("setting %d: no accuracy", i)
		}
	}
	if p.A.Real != p.B.Real || p.A.FeatureSpace != p.B.FeatureSpace {
		t.Errorf("real reference %+v vs %+v", p.A.Real, p.B.Real)
	}
	if p.A.Probe == nil || p.A.ProbeNA != "" {
		t.Errorf("SVG model: probes %v, n/a %q", p.A.Probe, p.A.ProbeNA)
	}
	if p.B.Probe != nil || !strings.HasPrefix(p.B.ProbeNA, "n/a") {
		t.Errorf("VAE twin: probes %v, n/a %q", p.B.Probe, p.B.ProbeNA)
	}
	ra, rb := p.A.Reconstruction, p.B.Reconstruction
	if ra == nil || ra.PSNRDinoOnly == nil || rb == nil || rb.PSNRDinoOnly != nil || rb.N != 12 {
		t.Fatalf("reconstructions %+v / %+v", ra, rb)
	}

	// Independent: the same 12 held-out images through model.CPU (float64
	// reference kernels), [-1,1] input, posterior mean, decode, PSNR here.
	ref := model.CPU{}
	vref := openModelCfg(t, ref, "testdata/tiny32-vae.json")
	test := ds.Test.Subset(Sample(ds.Test.N, 12, o.Seed+3))
	x := make([]float32, 0, 12*3*32*32)
	for _, v := range test.Images.Float01(3) {
		x = append(x, v*2-1)
	}
	z, err := vref.Encode(ref, ref.Upload(x, 12, 3, 32, 32), 12)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ref.Read(vref.Decode(ref, z, 12))
	if err != nil {
		t.Fatal(err)
	}
	target := test.Images.Float01(3)
	var sum float64
	per := 3 * 32 * 32
	for i := range 12 {
		var se float64
		for j := range per {
			v := float64(out[i*per+j])
			v = (min(1, max(-1, v)) + 1) / 2
			d := v - float64(target[i*per+j])
			se += d * d
		}
		sum += 10 * math.Log10(1/(se/float64(per)))
	}
	want := sum / 12
	t.Logf("VAE twin PSNR %.5f dB (eval), %.5f dB (reference backend, computed here); SVG %.3f dB", rb.PSNR, want, ra.PSNR)
	if math.Abs(rb.PSNR-want) > 1e-3 {
		t.Errorf("VAE PSNR %.6f, independent %.6f", rb.PSNR, want)
	}
}

// openModelCfg writes the same random weights randomModel does (seed 3,
// std 0.05) and opens them on b.
func openModelCfg(t *testing.T, b model.Backend, cfgPath string) *model.SVG {
	return openModel(t, b, randomModel(t, cfgPath, 0.05))
}

// TestRunPairSelf: a model paired with itself gets identical figures, and
// the Fréchet distance between its two sample sets is 0 (to the eigen-
// solver's precision).
func TestRunPairSelf(t *testing.T) {
	b := FastCPU{}
	_, vae, ds, c := pairFixture(t, b)
	o := pairOptions(vae, b, ds, c)
	o.Steps, o.ReconN = []int{2}, 0
	p, err := RunPair(o, vae)
	if err != nil {
		t.Fatal(err)
	}
	for i, ga := range p.A.Generation {
		gb := p.B.Generation[i]
		if ga.FD != gb.FD || *ga.Accuracy != *gb.Accuracy || !slices.Equal(ga.PerClass, gb.PerClass) {
			t.Errorf("setting %d: FD %g / %g, accuracy %g / %g", i, ga.FD, gb.FD, *ga.Accuracy, *gb.Accuracy)
		}
		t.Logf("setting %d: FD to real %.4f, FD between the two runs %.3g", i, ga.FD, p.Between[i].FD)
		if math.Abs(p.Between[i].FD) > 1e-6*ga.FD {
			t.Errorf("setting %d: FD of the model vs itself %g", i, p.Between[i].FD)
		}
	}
}

// TestRunPairErrors: twins that cannot be compared are refused.
func TestRunPairErrors(t *testing.T) {
	b := FastCPU{}
	svg, vae, ds, c := pairFixture(t, b)
	o := pairOptions(svg, b, ds, c)
	o.Classifier = nil
	if _, err := RunPair(o, vae); err == nil || !strings.Contains(err.Error(), "classifier") {
		t.Errorf("no classifier: %v", err)
	}
	cfg, err := convert.LoadConfig("testdata/tiny32-vae.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DiT.NumClasses, cfg.Classes = 5, nil
	path := filepath.Join(t.TempDir(), "five.safetensors")
	meta, _ := convert.Metadata(cfg, nil, nil, nil)
	if err := weights.WriteFile(path, convert.Random(cfg, 3, 0.05), meta); err != nil {
		t.Fatal(err)
	}
	five := openModel(t, b, path)
	if _, err := RunPair(pairOptions(svg, b, ds, c), five); err == nil || !strings.Contains(err.Error(), "5") {
		t.Errorf("5-class twin: %v", err)
	}
}
