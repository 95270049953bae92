package eval

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestNpyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npy")
	data := []byte{1, 2, 3, 4, 5, 6}
	if err := WriteNpy(p, "u1", []int{2, 3}, data); err != nil {
		t.Fatal(err)
	}
	a, err := ReadNpy(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != "u1" || !slices.Equal(a.Shape, []int{2, 3}) || !slices.Equal(a.Data, data) {
		t.Errorf("read back %s %v %v", a.Type, a.Shape, a.Data)
	}
	if err := WriteNpy(p, "i8", []int{2}, []byte{7, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	a, err = ReadNpy(p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Ints()
	if err != nil || !slices.Equal(v, []int{7, -1}) {
		t.Errorf("ints %v %v", v, err)
	}
}

// synthData writes a synthetic data set (WriteSyntheticDataset's arguments)
// to a temporary folder named synth and loads it.
func synthData(t testing.TB, classes, size, channels, train, test int, seed uint64) *Dataset {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "synth")
	if err := WriteSyntheticDataset(dir, classes, size, channels, train, test, seed); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSyntheticDataset(t *testing.T) {
	d := synthData(t, 16, 64, 3, 50, 20, 3)
	if d.Name != "synth" || len(d.Classes) != 16 || d.Train.N != 50 || d.Test.N != 20 || d.Test.C != 3 || d.Test.H != 64 {
		t.Errorf("loaded %s: %d classes, %d/%d images %d×%d×%d", d.Name, len(d.Classes), d.Train.N, d.Test.N, d.Test.H, d.Test.W, d.Test.C)
	}
	if d.Train.Labels[17] != 1 {
		t.Errorf("label 17 = %d", d.Train.Labels[17])
	}
}

func TestSampleAndConversions(t *testing.T) {
	s := Sample(100, 10, 4)
	if len(s) != 10 || !slices.IsSorted(s) || len(slices.Compact(slices.Clone(s))) != 10 || s[9] >= 100 {
		t.Errorf("Sample: %v", s)
	}
	if !slices.Equal(Sample(100, 10, 4), s) || slices.Equal(Sample(100, 10, 5), s) {
		t.Error("Sample is not a function of the seed")
	}
	if len(Sample(5, 10, 0)) != 5 {
		t.Error("Sample k > n")
	}
	im := FromRGBA8([]byte{10, 20, 31, 255, 255, 255, 255, 255}, 2, 1, 1, 1)
	if im.Pix[0] != 20 || im.Pix[1] != 255 {
		t.Errorf("grey %v", im.Pix)
	}
	x := Images{N: 1, H: 1, W: 2, C: 1, Pix: []uint8{0, 255}}.Float01(3)
	if !slices.Equal(x, []float32{0, 1, 0, 1, 0, 1}) {
		t.Errorf("Float01 %v", x)
	}
	f, dim, fac := pixelFeatures(Images{N: 1, H: 64, W: 64, C: 3, Pix: make([]uint8, 64*64*3)})
	if dim != 768 || fac != 4 || len(f) != 768 {
		t.Errorf("pixel features of 64×64×3: dim %d factor %d", dim, fac)
	}
}
