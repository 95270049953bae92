package main

// Shared by the commands that run networks: choosing a backend, opening a
// model file, reading and writing images.

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"strings"

	_ "image/jpeg" // encode accepts JPEG too

	"novae/model"
	"novae/model/convert"
	"novae/model/weights"
	"novae/shaders"
)

// runtimeFlags are the flags every running command shares.
type runtimeFlags struct {
	weights string
	cpu     bool
}

func (r *runtimeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&r.weights, "weights", "", "model weights: a novae .safetensors file or a sharded set's model.json (required)")
	fs.BoolVar(&r.cpu, "cpu", false, "run on the pure-Go reference instead of WebGPU")
}

// backend opens the GPU engine (or the CPU reference with -cpu).
func (r *runtimeFlags) backend() (model.Backend, error) {
	if r.cpu {
		return model.CPU{}, nil
	}
	e, err := shaders.New(shaders.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w (use -cpu to run on the CPU)", err)
	}
	return model.NewGPU(e), nil
}

// load opens the backend and loads the model file onto it (with the
// encoders if asked); close the file when done.
func (r *runtimeFlags) load(encoders bool) (model.Backend, *model.SVG, *weights.File, error) {
	b, err := r.backend()
	if err != nil {
		return nil, nil, nil, err
	}
	m, f, err := r.open(b, encoders)
	return b, m, f, err
}

// open loads the model file onto b.
func (r *runtimeFlags) open(b model.Backend, encoders bool) (*model.SVG, *weights.File, error) {
	if r.weights == "" {
		return nil, nil, usagef("-weights is required")
	}
	f, err := weights.Open(r.weights)
	if err != nil {
		return nil, nil, err
	}
	// The whole file is checked against its config first (names and shapes
	// only: cheap), so a mismatch lists every difference, not the first.
	cfg, err := convert.CheckFile(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", r.weights, err)
	}
	m, err := model.Open(b, model.FileSource{F: f}, cfg, encoders)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", r.weights, err)
	}
	return m, f, nil
}

// writeGrid writes n RGBA8 images of side s as a grid PNG (cols per row).
func writeGrid(path string, rgba []byte, n, s, cols int) error {
	if cols <= 0 || cols > n {
		cols = n
	}
	rows := (n + cols - 1) / cols
	img := image.NewRGBA(image.Rect(0, 0, cols*s, rows*s))
	for i := range n {
		x0, y0 := (i%cols)*s, (i/cols)*s
		for y := range s {
			src := rgba[(i*s+y)*s*4 : (i*s+y+1)*s*4]
			copy(img.Pix[(y0+y)*img.Stride+x0*4:], src)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadImages decodes image files, resizes each to s×s (bilinear, centre
// crop to square) and returns them as [N,3,s,s] normalised per channel,
// (p − mean)/std for p in [0,1] (model.Config.InputNorm).
func loadImages(paths []string, s int, mean, std [3]float32) ([]float32, error) {
	out := make([]float32, 0, len(paths)*3*s*s)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: not an image I can read (PNG or JPEG): %w", p, err)
		}
		b := img.Bounds()
		if b.Dx() > 20000 || b.Dy() > 20000 {
			return nil, fmt.Errorf("%s: %d×%d is too large", p, b.Dx(), b.Dy())
		}
		px := resizeSquare(img, s)
		for c := range 3 {
			for i := range s * s {
				out = append(out, (px[i*3+c]-mean[c])/std[c])
			}
		}
	}
	return out, nil
}

// resizeSquare centre-crops img to a square and resamples it bilinearly to
// s×s RGB in [0,1]; transparent pixels are composited on white.
func resizeSquare(img image.Image, s int) []float32 {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	at := func(x, y int) [3]float32 {
		x = max(0, min(side-1, x))
		y = max(0, min(side-1, y))
		r, g, bb, a := img.At(x0+x, y0+y).RGBA()
		w := float32(65535 - a) // premultiplied over white
		return [3]float32{(float32(r) + w) / 65535, (float32(g) + w) / 65535, (float32(bb) + w) / 65535}
	}
	out := make([]float32, s*s*3)
	scale := float64(side) / float64(s)
	for y := range s {
		fy := (float64(y)+0.5)*scale - 0.5
		iy := int(fy)
		if fy < 0 {
			iy = -1
		}
		wy := float32(fy - float64(iy))
		for x := range s {
			fx := (float64(x)+0.5)*scale - 0.5
			ix := int(fx)
			if fx < 0 {
				ix = -1
			}
			wx := float32(fx - float64(ix))
			p00, p10, p01, p11 := at(ix, iy), at(ix+1, iy), at(ix, iy+1), at(ix+1, iy+1)
			for c := range 3 {
				v := (p00[c]*(1-wx)+p10[c]*wx)*(1-wy) + (p01[c]*(1-wx)+p11[c]*wx)*wy
				out[(y*s+x)*3+c] = v
			}
		}
	}
	return out
}

// parseClasses reads "3", "3,5,7" or class names from the model card.
func parseClasses(s string, cfg model.Config) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var c int
		if _, err := fmt.Sscanf(part, "%d", &c); err == nil && fmt.Sprint(c) == part {
			if c < 0 || c >= cfg.DiT.NumClasses {
				return nil, fmt.Errorf("class %d out of range 0..%d", c, cfg.DiT.NumClasses-1)
			}
			out = append(out, c)
			continue
		}
		found := false
		for i, name := range cfg.Classes {
			if strings.EqualFold(name, part) {
				out, found = append(out, i), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown class %q (a number 0..%d or a name from the model card)", part, cfg.DiT.NumClasses-1)
		}
	}
	return out, nil
}
