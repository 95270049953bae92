package eval

// The independent judge: a small CNN trained by tools/eval/train_classifier.py
// on the data set's train split only, run here in pure Go. Stages of
// conv3×3 (pad 1, BatchNorm folded in) → ReLU → max-pool 2×2, then
// Linear → ReLU (the features) → Linear (the logits).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"novae/model/weights"
)

// ClassifierArch is the "arch" metadata of a classifier file.
type ClassifierArch struct {
	InChannels int    `json:"in_channels"`
	Size       int    `json:"size"`
	Channels   []int  `json:"channels"`
	Hidden     int    `json:"hidden"`
	Classes    int    `json:"classes"`
	Input      string `json:"input"`
}

// Classifier is a loaded classifier.
type Classifier struct {
	Arch         ClassifierArch
	Path, SHA256 string
	TestAccuracy float64 // as measured by the training script (PyTorch, whole test split)
	Meta         map[string]string
	convW, convB [][]float32
	fc1W, fc1B   []float32
	fc2W, fc2B   []float32
	// Fixture: the first test images and PyTorch's outputs for them.
	Fixture struct {
		Images           Images
		Logits, Features []float32
	}
}

// LoadClassifier reads a classifier file.
func LoadClassifier(path string) (*Classifier, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	f, err := weights.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &Classifier{Path: path, SHA256: hex.EncodeToString(sum[:]), Meta: f.Metadata()}
	if c.Meta["format"] != "novae-classifier/1" {
		return nil, fmt.Errorf("%s: not a novae classifier (format %q)", path, c.Meta["format"])
	}
	if err := json.Unmarshal([]byte(c.Meta["arch"]), &c.Arch); err != nil {
		return nil, fmt.Errorf("%s: arch metadata: %w", path, err)
	}
	a := c.Arch
	if a.InChannels != 1 && a.InChannels != 3 || len(a.Channels) == 0 || a.Size>>len(a.Channels) < 1 || a.Hidden < 1 || a.Classes < 2 {
		return nil, fmt.Errorf("%s: bad arch %+v", path, a)
	}
	c.TestAccuracy, _ = strconv.ParseFloat(c.Meta["test_accuracy"], 64)
	get := func(name string, shape ...int) ([]float32, error) {
		info, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %q", path, name)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		m := 1
		for _, d := range info.Shape {
			m *= d
		}
		if m != n {
			return nil, fmt.Errorf("%s: %s has shape %v, want %v", path, name, info.Shape, shape)
		}
		return f.F32(name)
	}
	cin := a.InChannels
	for i, co := range a.Channels {
		w, err := get(fmt.Sprintf("conv%d.weight", i), co, cin, 3, 3)
		if err != nil {
			return nil, err
		}
		b, err := get(fmt.Sprintf("conv%d.bias", i), co)
		if err != nil {
			return nil, err
		}
		c.convW, c.convB = append(c.convW, w), append(c.convB, b)
		cin = co
	}
	s := a.Size >> len(a.Channels)
	if c.fc1W, err = get("fc1.weight", a.Hidden, cin*s*s); err != nil {
		return nil, err
	}
	if c.fc1B, err = get("fc1.bias", a.Hidden); err != nil {
		return nil, err
	}
	if c.fc2W, err = get("fc2.weight", a.Classes, a.Hidden); err != nil {
		return nil, err
	}
	if c.fc2B, err = get("fc2.bias", a.Classes); err != nil {
		return nil, err
	}
	if info, ok := f.Info("fixture.images"); ok {
		px, err := f.Raw("fixture.images")
		if err != nil {
			return nil, err
		}
		im := Images{N: info.Shape[0], H: info.Shape[1], W: info.Shape[2], C: 1, Pix: px}
		if len(info.Shape) == 4 {
			im.C = info.Shape[3]
		}
		c.Fixture.Images = im
		if c.Fixture.Logits, err = f.F32("fixture.logits"); err != nil {
			return nil, err
		}
		if c.Fixture.Features, err = f.F32("fixture.features"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Output is what the classifier computes for a set of images.
type Output struct {
	Logits   []float32 // [N, classes]
	Features []float32 // [N, hidden] (after the ReLU)
}

// Predictions are the argmax classes.
func (o Output) Predictions(classes int) []int {
	out := make([]int, len(o.Logits)/classes)
	for i := range out {
		row := o.Logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// Run classifies images of the classifier's size (grey and RGB are
// converted to its channel count), images spread over the workers.
func (c *Classifier) Run(im Images, workers int) (Output, error) {
	a := c.Arch
	if im.H != a.Size || im.W != a.Size {
		return Output{}, fmt.Errorf("classifier takes %d×%d images, got %d×%d", a.Size, a.Size, im.H, im.W)
	}
	out := Output{Logits: make([]float32, im.N*a.Classes), Features: make([]float32, im.N*a.Hidden)}
	if workers < 1 {
		workers = 1
	}
	const chunk = 16
	parallel(workers, im.N, chunk, func(lo, hi int) {
		for i := lo; i < hi; i += chunk {
			j := min(hi, i+chunk)
			idx := make([]int, j-i)
			for k := range idx {
				idx[k] = i + k
			}
			x := im.Select(idx).Float01(a.InChannels)
			c.forward(x, j-i, out.Logits[i*a.Classes:j*a.Classes], out.Features[i*a.Hidden:j*a.Hidden])
		}
	})
	return out, nil
}

// forward runs B images x [B,Cin,S,S] in [0,1].
func (c *Classifier) forward(x []float32, B int, logits, feats []float32) {
	a := c.Arch
	cin, s := a.InChannels, a.Size
	seq := FastCPU{Workers: 1}
	for i, co := range a.Channels {
		y := make([]float32, B*co*s*s)
		seq.conv(y, x, c.convW[i], c.convB[i], nil, B, cin, s, s, co, 3, 1, false)
		x = reluPool(y, B*co, s)
		cin, s = co, s/2
	}
	flat := cin * s * s
	h := make([]float32, B*a.Hidden)
	gemmNT(h, x, c.fc1W, B, a.Hidden, flat)
	for i := range h {
		h[i] = max(0, h[i]+c.fc1B[i%a.Hidden])
	}
	copy(feats, h)
	gemmNT(logits, h, c.fc2W, B, a.Classes, a.Hidden)
	for i := range logits {
		logits[i] += c.fc2B[i%a.Classes]
	}
}

// reluPool: ReLU then 2×2 max-pool (stride 2) on planes of s×s.
func reluPool(y []float32, planes, s int) []float32 {
	h := s / 2
	out := make([]float32, planes*h*h)
	for p := range planes {
		src := y[p*s*s : (p+1)*s*s]
		dst := out[p*h*h : (p+1)*h*h]
		for oy := range h {
			for ox := range h {
				v := max(src[2*oy*s+2*ox], src[2*oy*s+2*ox+1], src[(2*oy+1)*s+2*ox], src[(2*oy+1)*s+2*ox+1])
				dst[oy*h+ox] = max(0, v)
			}
		}
	}
	return out
}
