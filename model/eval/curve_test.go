package eval

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"novae/model/convert"
	"novae/model/weights"
)

// writeSnapshot writes the DiT of random weights (cfgPath, seed) as a
// training snapshot: its keys under wrap ("ema." as train_dit.py writes, or
// "module." as a DataParallel state dict).
func writeSnapshot(t *testing.T, path, cfgPath string, seed uint64, wrap string) {
	t.Helper()
	cfg, err := convert.LoadConfig(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ts []weights.Tensor
	for _, w := range convert.Random(cfg, seed, 0.05) {
		if k, ok := strings.CutPrefix(w.Name, "dit."); ok {
			w.Name = wrap + k
			ts = append(ts, w)
		}
	}
	if err := weights.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCurve: snapshots are found in step order; a snapshot holding the
// model's own DiT (the weights randomModel draws, seed 3) gives exactly the
// figures of Run on the model; another DiT gives others; a DiT of another
// width is refused with its keys named.
func TestCurve(t *testing.T) {
	b := FastCPU{}
	_, vae, ds, c := pairFixture(t, b)
	dir := t.TempDir()
	writeSnapshot(t, filepath.Join(dir, "dit_step200.safetensors"), "testdata/tiny32-vae.json", 3, "ema.")
	writeSnapshot(t, filepath.Join(dir, "dit_step1000.safetensors"), "testdata/tiny32-vae.json", 7, "module.")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// a whole novae model as a sharded set (dit_step50.json + dit_step50-00001.safetensors): its dit.* tensors
	cfg, err := convert.LoadConfig("testdata/tiny32-vae.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := convert.Metadata(cfg, nil, nil, nil)
	if _, err := weights.WriteSharded(dir, "dit_step50", convert.Random(cfg, 3, 0.05), meta, 0); err != nil {
		t.Fatal(err)
	}
	snaps, err := FindSnapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 3 || snaps[0].Step != 50 || snaps[1].Step != 200 || snaps[2].Step != 1000 {
		t.Fatalf("snapshots %+v, want steps 50, 200, 1000", snaps)
	}
	manifest := snaps[0]
	snaps = snaps[1:]
	o := pairOptions(vae, b, ds, c)
	o.Steps, o.ReconN, o.ProbeTrain, o.GuidedOnly = []int{2}, 0, 0, true
	pts, real, err := Curve(o, snaps)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || len(pts[0].Generation) != 1 || len(want.Generation) != 1 {
		t.Fatalf("%d points, %+v", len(pts), pts)
	}
	g0, g1, w := pts[0].Generation[0], pts[1].Generation[0], want.Generation[0]
	t.Logf("step 200 (the model's DiT): FD %.4f acc %.3f; step 1000 (another DiT): FD %.4f; Run: FD %.4f acc %.3f",
		g0.FD, *g0.Accuracy, g1.FD, w.FD, *w.Accuracy)
	if g0.CFG != 3 || g0.FD != w.FD || *g0.Accuracy != *w.Accuracy {
		t.Errorf("the model's own DiT as a snapshot: FD %g acc %g (cfg %g), Run: FD %g acc %g", g0.FD, *g0.Accuracy, g0.CFG, w.FD, *w.Accuracy)
	}
	if g1.FD == w.FD {
		t.Errorf("another DiT gives the same FD %g", g1.FD)
	}
	if real != want.Real {
		t.Errorf("real reference %+v, Run's %+v", real, want.Real)
	}
	mp, _, err := Curve(o, []Snapshot{manifest})
	if err != nil {
		t.Fatal(err)
	}
	if g := mp[0].Generation[0]; g.FD != w.FD {
		t.Errorf("the model's sharded set as a snapshot: FD %g, Run %g", g.FD, w.FD)
	}
	raw, _ := os.ReadFile(snaps[0].Path)
	if pts[0].File != "dit_step200.safetensors" || pts[0].SHA256 != sha256Hex(raw) {
		t.Errorf("point 0 names %s %s", pts[0].File, pts[0].SHA256)
	}

	bad := t.TempDir()
	writeSnapshot(t, filepath.Join(bad, "dit_step5.safetensors"), "testdata/tiny32.json", 3, "ema.")
	bs, err := FindSnapshots(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Curve(o, bs); err == nil || !strings.Contains(err.Error(), "dit.final_layer.linear.weight: file has [80 32]") {
		t.Errorf("a 40-channel DiT for a 4-channel latent: %v", err)
	}
	if _, err := FindSnapshots(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--snapshot-every") {
		t.Errorf("empty directory: %v", err)
	}
}

func sha256Hex(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// TestPlot: every data point's marker has its series' colour where Pixel
// puts it, the legend shows each colour, the PNG decodes to the plot's size
// and the same plot gives the same bytes.
func TestPlot(t *testing.T) {
	p := &Plot{Title: "FD vs training step", XLabel: "DiT training step", YLabel: "FD", W: 640, H: 360, Series: []Series{
		{Label: "SVG, 4 steps", X: []float64{500, 1000, 2000, 4000, 6000}, Y: []float64{120, 60, 35, 25, 21}, Color: ColorSVG},
		{Label: "VAE, 25 steps", X: []float64{500, 1000, 2000, 4000, 6000}, Y: []float64{150, 110, 80, 50, 40}, Color: ColorVAE, Dashed: true},
	}}
	img := p.Draw()
	if img.Bounds().Dx() != 640 || img.Bounds().Dy() != 360 {
		t.Fatalf("size %v", img.Bounds())
	}
	if p.y0 != 0 || p.y1 < 150 || p.y1 > 200 || p.x0 != 500 || p.x1 != 6000 {
		t.Errorf("axes x %g..%g y %g..%g", p.x0, p.x1, p.y0, p.y1)
	}
	for _, s := range p.Series {
		for i := range s.X {
			x, y := p.Pixel(s.X[i], s.Y[i])
			if got := img.RGBAAt(x, y); got != s.Color {
				t.Errorf("%s point %d at (%d,%d): colour %v, want %v", s.Label, i, x, y, got, s.Color)
			}
		}
	}
	// the first point sits on the left axis, the last on the right end
	if x, _ := p.Pixel(500, 0); x != p.left {
		t.Errorf("x0 at column %d, left %d", x, p.left)
	}
	if _, y := p.Pixel(500, 0); y != p.bottom {
		t.Errorf("y 0 at row %d, bottom %d", y, p.bottom)
	}
	var a, b bytes.Buffer
	if err := png.Encode(&a, img); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&b, p.Draw()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two draws of the same plot differ")
	}
	path := filepath.Join(t.TempDir(), "plot.png")
	if err := p.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := png.Decode(f)
	if err != nil || dec.Bounds().Dx() != 640 {
		t.Fatalf("decoded %v, %v", dec, err)
	}
	// dark text pixels in the title band
	ink := 0
	for x := range 640 {
		for y := 5; y < 22; y++ {
			if c := img.RGBAAt(x, y); c.R < 0x80 {
				ink++
			}
		}
	}
	if ink < 50 {
		t.Errorf("title: %d dark pixels", ink)
	}
}
