package eval

// A small line plot as a PNG (the README's convergence figure), drawn with
// the standard image packages and x/image's 7×13 bitmap font: linear axes
// with 1-2-5 ticks, one line with square markers per series (dashed when
// asked), a legend in the top-right corner.

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a plot.
type Series struct {
	Label  string
	X, Y   []float64
	Color  color.RGBA
	Dashed bool
}

// Plot is a line plot and its pixel frame.
type Plot struct {
	Title, XLabel, YLabel string
	Series                []Series
	W, H                  int

	x0, x1, y0, y1 float64 // data range on the axes
	left, right    int     // pixel columns of the x range
	top, bottom    int     // pixel rows of the y range
}

// Colours of the plots novae draws.
var (
	ColorSVG = color.RGBA{0x1f, 0x77, 0xb4, 0xff} // blue
	ColorVAE = color.RGBA{0xd6, 0x4a, 0x0b, 0xff} // orange
)

// Pixel maps a data point to its pixel (after Draw or Frame).
func (p *Plot) Pixel(x, y float64) (int, int) {
	px := float64(p.left) + (x-p.x0)/(p.x1-p.x0)*float64(p.right-p.left)
	py := float64(p.bottom) - (y-p.y0)/(p.y1-p.y0)*float64(p.bottom-p.top)
	return int(math.Round(px)), int(math.Round(py))
}

// Frame fixes the axes' ranges (x over the data, y from 0 to a tick above
// the largest value) and the plot area.
func (p *Plot) Frame() {
	p.x0, p.x1, p.y0, p.y1 = math.Inf(1), math.Inf(-1), 0, math.Inf(-1)
	for _, s := range p.Series {
		for i := range s.X {
			p.x0, p.x1 = math.Min(p.x0, s.X[i]), math.Max(p.x1, s.X[i])
			p.y1 = math.Max(p.y1, s.Y[i])
		}
	}
	if math.IsInf(p.x0, 0) {
		p.x0, p.x1, p.y1 = 0, 1, 1
	}
	if p.x1 == p.x0 {
		p.x1 = p.x0 + 1
	}
	if !(p.y1 > 0) {
		p.y1 = 1
	}
	st := niceStep(p.y1 - p.y0)
	p.y1 = math.Ceil(p.y1*1.02/st) * st
	p.left, p.right, p.top, p.bottom = 58, p.W-14, 30, p.H-44
}

// niceStep is a 1-2-5 tick spacing giving about five ticks over r.
func niceStep(r float64) float64 {
	raw := r / 5
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= raw {
			return m * e
		}
	}
	return 10 * e
}

// Draw renders the plot.
func (p *Plot) Draw() *image.RGBA {
	p.Frame()
	img := image.NewRGBA(image.Rect(0, 0, p.W, p.H))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	grid := color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	ink := color.RGBA{0x22, 0x22, 0x22, 0xff}
	// y ticks and grid
	st := niceStep(p.y1 - p.y0)
	for v := p.y0; v <= p.y1+st/1e6; v += st {
		_, y := p.Pixel(p.x0, v)
		hline(img, p.left, p.right, y, grid)
		s := strconv.FormatFloat(v, 'f', -1, 64)
		text(img, p.left-6-7*len(s), y+4, s, ink)
	}
	// x ticks
	sx := niceStep(p.x1 - p.x0)
	for v := math.Ceil(p.x0/sx) * sx; v <= p.x1+sx/1e6; v += sx {
		x, _ := p.Pixel(v, p.y0)
		vline(img, x, p.bottom, p.bottom+4, ink)
		s := strconv.FormatFloat(v, 'f', -1, 64)
		text(img, x-7*len(s)/2, p.bottom+17, s, ink)
	}
	hline(img, p.left, p.right, p.bottom, ink)
	vline(img, p.left, p.top, p.bottom, ink)
	text(img, (p.W-7*len(p.Title))/2, 18, p.Title, ink)
	text(img, (p.left+p.right-7*len(p.XLabel))/2, p.H-8, p.XLabel, ink)
	text(img, 4, p.top-8, p.YLabel, ink)
	for _, s := range p.Series {
		for i := 1; i < len(s.X); i++ {
			ax, ay := p.Pixel(s.X[i-1], s.Y[i-1])
			bx, by := p.Pixel(s.X[i], s.Y[i])
			line(img, ax, ay, bx, by, s.Color, s.Dashed)
		}
		for i := range s.X {
			x, y := p.Pixel(s.X[i], s.Y[i])
			fill(img, x-2, y-2, x+3, y+3, s.Color)
		}
	}
	// legend
	lw := 0
	for _, s := range p.Series {
		lw = max(lw, len(s.Label))
	}
	lx, ly := p.right-7*lw-40, p.top+6
	fill(img, lx-6, ly-4, p.right-2, ly+16*len(p.Series)+2, color.RGBA{0xff, 0xff, 0xff, 0xff})
	for i, s := range p.Series {
		y := ly + 16*i + 6
		line(img, lx, y, lx+24, y, s.Color, s.Dashed)
		fill(img, lx+10, y-2, lx+15, y+3, s.Color)
		text(img, lx+30, y+4, s.Label, ink)
	}
	return img
}

// WritePNG draws the plot into a PNG file.
func (p *Plot) WritePNG(path string) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, p.Draw()); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) { fill(img, x0, y, x1+1, y+1, c) }
func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) { fill(img, x, y0, x+1, y1+1, c) }

// line draws a 2-pixel line (Bresenham); dashed: 6 on, 4 off.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, dashed bool) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for n := 0; ; n++ {
		if !dashed || n%10 < 6 {
			fill(img, x0, y0, x0+2, y0+2, c)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
