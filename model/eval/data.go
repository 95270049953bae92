package eval

// Data sets as tools/data/prepare.py writes them: data/<name>/{train,test}_x.npy
// (uint8 [N,H,W] grey or [N,H,W,3] RGB), {train,test}_y.npy (int64 [N]) and
// meta.json (class names).

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Images are uint8 pixels, N×H×W×C (C = 1 grey or 3 RGB), row-major.
type Images struct {
	N, H, W, C int
	Pix        []uint8
}

// At returns image i's pixels (H·W·C bytes, no copy).
func (im Images) At(i int) []uint8 {
	n := im.H * im.W * im.C
	return im.Pix[i*n : (i+1)*n]
}

// Select returns the images at idx (copied).
func (im Images) Select(idx []int) Images {
	out := Images{N: len(idx), H: im.H, W: im.W, C: im.C, Pix: make([]uint8, 0, len(idx)*im.H*im.W*im.C)}
	for _, i := range idx {
		out.Pix = append(out.Pix, im.At(i)...)
	}
	return out
}

// Float01 returns the images as float32 NCHW in [0,1] with C channels
// (grey is replicated when C = 3 and the images have one channel; RGB is
// averaged to grey when C = 1).
func (im Images) Float01(C int) []float32 {
	out := make([]float32, im.N*C*im.H*im.W)
	hw := im.H * im.W
	for i := range im.N {
		src := im.At(i)
		dst := out[i*C*hw : (i+1)*C*hw]
		for p := range hw {
			px := src[p*im.C : (p+1)*im.C]
			switch {
			case im.C == C:
				for c := range C {
					dst[c*hw+p] = float32(px[c]) / 255
				}
			case im.C == 1: // grey → C channels
				for c := range C {
					dst[c*hw+p] = float32(px[0]) / 255
				}
			default: // RGB → grey
				var s float32
				for _, v := range px {
					s += float32(v)
				}
				dst[p] = s / float32(len(px)) / 255
			}
		}
	}
	return out
}

// ImageNetNCHW is Float01 with 3 channels, normalised with the ImageNet
// mean/std (the SVG encoders' input, as tools/train feeds them).
func (im Images) ImageNetNCHW() []float32 {
	return im.NormNCHW([3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225})
}

// NormNCHW is Float01 with 3 channels, normalised per channel:
// (p − mean)/std (model.Config.InputNorm gives a model's).
func (im Images) NormNCHW(mean, std [3]float32) []float32 {
	x := im.Float01(3)
	hw := im.H * im.W
	for i := range x {
		c := (i / hw) % 3
		x[i] = (x[i] - mean[c]) / std[c]
	}
	return x
}

// FromRGBA8 converts RGBA8 images (as Backend.ToRGBA8 returns) to C
// channels: RGB, or grey as the rounded mean of R, G and B.
func FromRGBA8(rgba []byte, n, h, w, C int) Images {
	im := Images{N: n, H: h, W: w, C: C, Pix: make([]uint8, n*h*w*C)}
	for p := range n * h * w {
		s := rgba[p*4 : p*4+3]
		if C == 1 {
			im.Pix[p] = uint8((int(s[0]) + int(s[1]) + int(s[2]) + 1) / 3)
		} else {
			copy(im.Pix[p*3:p*3+3], s)
		}
	}
	return im
}

// ToRGBA8 expands the images to RGBA8 (for PNG grids).
func (im Images) ToRGBA8() []byte {
	out := make([]byte, im.N*im.H*im.W*4)
	for p := range im.N * im.H * im.W {
		px := im.Pix[p*im.C : (p+1)*im.C]
		for c := range 3 {
			out[p*4+c] = px[c%im.C]
		}
		out[p*4+3] = 255
	}
	return out
}

// Split is one split of a data set.
type Split struct {
	Images
	Labels []int
}

// Subset returns the items at idx.
func (s Split) Subset(idx []int) Split {
	out := Split{Images: s.Images.Select(idx), Labels: make([]int, len(idx))}
	for j, i := range idx {
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// Dataset is a prepared data set directory.
type Dataset struct {
	Dir     string
	Name    string
	Classes []string
	Train   Split
	Test    Split
}

// LoadDataset reads dir/{train,test}_{x,y}.npy and dir/meta.json.
func LoadDataset(dir string) (*Dataset, error) {
	d := &Dataset{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
	var meta struct {
		Classes []string `json:"classes"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("data set %s: %w (prepare it with tools/data/prepare.py)", dir, err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("%s/meta.json: %w", dir, err)
	}
	d.Classes = meta.Classes
	for _, sp := range []struct {
		name string
		dst  *Split
	}{{"train", &d.Train}, {"test", &d.Test}} {
		s, err := loadSplit(dir, sp.name, len(d.Classes))
		if err != nil {
			return nil, err
		}
		*sp.dst = s
	}
	if d.Train.H != d.Test.H || d.Train.W != d.Test.W || d.Train.C != d.Test.C {
		return nil, fmt.Errorf("data set %s: train and test images differ in shape", dir)
	}
	return d, nil
}

func loadSplit(dir, split string, classes int) (Split, error) {
	var s Split
	x, err := ReadNpy(filepath.Join(dir, split+"_x.npy"))
	if err != nil {
		return s, err
	}
	y, err := ReadNpy(filepath.Join(dir, split+"_y.npy"))
	if err != nil {
		return s, err
	}
	if x.Type != "u1" || (len(x.Shape) != 3 && len(x.Shape) != 4) || (len(x.Shape) == 4 && x.Shape[3] != 3) {
		return s, fmt.Errorf("%s/%s_x.npy: want uint8 [N,H,W] or [N,H,W,3], got %s %v", dir, split, x.Type, x.Shape)
	}
	s.Images = Images{N: x.Shape[0], H: x.Shape[1], W: x.Shape[2], C: 1, Pix: x.Data}
	if len(x.Shape) == 4 {
		s.C = 3
	}
	if len(y.Shape) != 1 || y.Shape[0] != s.N {
		return s, fmt.Errorf("%s/%s_y.npy: shape %v for %d images", dir, split, y.Shape, s.N)
	}
	s.Labels, err = y.Ints()
	if err != nil {
		return s, fmt.Errorf("%s/%s_y.npy: %w", dir, split, err)
	}
	for _, l := range s.Labels {
		if l < 0 || (classes > 0 && l >= classes) {
			return s, fmt.Errorf("%s/%s_y.npy: label %d out of range for %d classes", dir, split, l, classes)
		}
	}
	return s, nil
}

// Npy is a NumPy array read from a .npy file (C order).
type Npy struct {
	Type  string // "u1", "i8", "i4", "f4", ... (byte order stripped; little-endian only)
	Shape []int
	Data  []byte
}

var npyHeader = regexp.MustCompile(`'descr':\s*'([<|=>])([a-z]\d+)'.*'fortran_order':\s*(True|False).*'shape':\s*\(([^)]*)\)`)

// ReadNpy reads a version 1–3 .npy file.
func ReadNpy(path string) (*Npy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("%s: not a .npy file", path)
	}
	var hl, off int
	switch b[6] {
	case 1:
		hl, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, fmt.Errorf("%s: truncated", path)
		}
		hl, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, fmt.Errorf("%s: .npy version %d", path, b[6])
	}
	if off+hl > len(b) {
		return nil, fmt.Errorf("%s: truncated header", path)
	}
	m := npyHeader.FindStringSubmatch(string(b[off : off+hl]))
	if m == nil {
		return nil, fmt.Errorf("%s: unreadable header %q", path, b[off:off+hl])
	}
	if m[1] == ">" {
		return nil, fmt.Errorf("%s: big-endian data", path)
	}
	if m[3] == "True" {
		return nil, fmt.Errorf("%s: Fortran order", path)
	}
	a := &Npy{Type: m[2]}
	n := 1
	for _, f := range strings.Split(m[4], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s: bad shape %q", path, m[4])
		}
		a.Shape = append(a.Shape, v)
		n *= v
	}
	size, err := strconv.Atoi(a.Type[1:])
	if err != nil {
		return nil, fmt.Errorf("%s: dtype %q", path, a.Type)
	}
	a.Data = b[off+hl:]
	if len(a.Data) != n*size {
		return nil, fmt.Errorf("%s: %d data bytes for shape %v of %s", path, len(a.Data), a.Shape, a.Type)
	}
	return a, nil
}

// Ints converts an integer array.
func (a *Npy) Ints() ([]int, error) {
	var out []int
	le := binary.LittleEndian
	switch a.Type {
	case "i8", "u8":
		for i := 0; i < len(a.Data); i += 8 {
			out = append(out, int(int64(le.Uint64(a.Data[i:]))))
		}
	case "i4":
		for i := 0; i < len(a.Data); i += 4 {
			out = append(out, int(int32(le.Uint32(a.Data[i:]))))
		}
	case "u1":
		for _, v := range a.Data {
			out = append(out, int(v))
		}
	default:
		return nil, fmt.Errorf("labels of type %s", a.Type)
	}
	return out, nil
}

// Sample returns k distinct indices of [0,n) drawn with seed, sorted
// ascending (k ≥ n: all of them).
func Sample(n, k int, seed uint64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if k >= n {
		return idx
	}
	r := rand.New(rand.NewPCG(seed, 0x6576616c)) // "eval"
	for i := range k {
		j := i + r.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:k]
	slices.Sort(idx)
	return idx
}
