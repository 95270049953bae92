package eval

// Writers for tests and smoke runs: .npy files, a synthetic data set in the
// prepared layout, and a classifier file with random weights.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"novae/model/weights"
)

// WriteNpy writes a version-1 .npy file; typ is a little-endian NumPy type
// code without the byte order ("u1", "i8", "f4").
func WriteNpy(path, typ string, shape []int, data []byte) error {
	order := "<"
	if typ == "u1" {
		order = "|"
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	h := fmt.Sprintf("{'descr': '%s%s', 'fortran_order': False, 'shape': (%s), }", order, typ, sh)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	buf := make([]byte, 0, 10+len(h)+len(data))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(h)))
	buf = append(buf, h...)
	buf = append(buf, data...)
	return os.WriteFile(path, buf, 0o644)
}

// WriteSyntheticDataset writes dir/{train,test}_{x,y}.npy and meta.json:
// images of side size (channels 1 or 3, dark background for grey, white for
// RGB) where class k is a bright (grey) or coloured square at a
// class-dependent place, plus noise: learnable, so probes and classifiers
// have something to find.
func WriteSyntheticDataset(dir string, classes, size, channels, train, test int, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 1))
	names := make([]string, classes)
	for k := range names {
		names[k] = fmt.Sprintf("class%d", k)
	}
	grid := 1
	for grid*grid < classes {
		grid++
	}
	sq := size / (grid + 1)
	for _, sp := range []struct {
		name string
		n    int
	}{{"train", train}, {"test", test}} {
		x := make([]byte, sp.n*size*size*channels)
		y := make([]byte, 0, sp.n*8)
		for i := range sp.n {
			k := i % classes
			y = binary.LittleEndian.AppendUint64(y, uint64(k))
			img := x[i*size*size*channels : (i+1)*size*size*channels]
			ox := (k%grid)*size/grid + r.IntN(3)
			oy := (k/grid)*size/grid + r.IntN(3)
			for p := range size * size {
				px, py := p%size, p/size
				in := px >= ox && px < ox+sq && py >= oy && py < oy+sq
				for c := range channels {
					v := 20 + r.IntN(30)
					if channels == 3 {
						v = 255 - v
					}
					if in {
						v = 230
						if channels == 3 {
							v = [3]int{200, 60 + 15*k%190, 40}[c]
						}
					}
					img[p*channels+c] = byte(v)
				}
			}
		}
		shape := []int{sp.n, size, size}
		if channels == 3 {
			shape = append(shape, 3)
		}
		if err := WriteNpy(filepath.Join(dir, sp.name+"_x.npy"), "u1", shape, x); err != nil {
			return err
		}
		if err := WriteNpy(filepath.Join(dir, sp.name+"_y.npy"), "i8", []int{sp.n}, y); err != nil {
			return err
		}
	}
	meta, _ := json.MarshalIndent(map[string]any{"format": 1, "source": "synthetic (model/eval)", "size": size,
		"channels": channels, "classes": names, "counts": map[string]int{"train": train, "test": test}}, "", " ")
	return os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644)
}

// WriteRandomClassifier writes a classifier file with random weights (He
// initialisation) in the layout tools/eval/train_classifier.py writes
// (without the fixture).
func WriteRandomClassifier(path string, a ClassifierArch, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2))
	randn := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * std)
		}
		return v
	}
	var ts []weights.Tensor
	cin := a.InChannels
	for i, co := range a.Channels {
		ts = append(ts, weights.F32Tensor(fmt.Sprintf("conv%d.weight", i), []int{co, cin, 3, 3}, randn(co*cin*9, math.Sqrt(2/float64(cin*9)))),
			weights.F32Tensor(fmt.Sprintf("conv%d.bias", i), []int{co}, randn(co, 0.01)))
		cin = co
	}
	s := a.Size >> len(a.Channels)
	flat := cin * s * s
	ts = append(ts, weights.F32Tensor("fc1.weight", []int{a.Hidden, flat}, randn(a.Hidden*flat, math.Sqrt(2/float64(flat)))),
		weights.F32Tensor("fc1.bias", []int{a.Hidden}, randn(a.Hidden, 0.01)),
		weights.F32Tensor("fc2.weight", []int{a.Classes, a.Hidden}, randn(a.Classes*a.Hidden, math.Sqrt(1/float64(a.Hidden)))),
		weights.F32Tensor("fc2.bias", []int{a.Classes}, randn(a.Classes, 0.01)))
	arch, _ := json.Marshal(a)
	meta := map[string]string{"format": "novae-classifier/1", "arch": string(arch), "test_accuracy": "0",
		"dataset": "random weights", "training": `{"random": true}`}
	return weights.WriteFile(path, ts, meta)
}
