package main

// What the canvas shows: every image of the batch as one or more panels
// (x_t, x̂₀, v) of S×S pixels, laid out in a grid with thin gaps, composed
// into one RGBA frame that the Game writes into its one reused image.

import "math"

// Panel names, in the order they appear left to right for one image.
const (
	PanelXt = "xt" // the noisy latent x_t, decoded
	PanelX0 = "x0" // the predicted clean latent x̂₀ = x_t + (1−t)·v, decoded
	PanelV  = "v"  // the velocity, decoded as if it were a latent
)

// PanelsFor returns the panels a view shows per image.
func PanelsFor(view string) []string {
	switch view {
	case "both":
		return []string{PanelXt, PanelX0}
	case "xt":
		return []string{PanelXt}
	case "v":
		return []string{PanelV}
	}
	return []string{PanelX0} // "x0", "final"
}

// Layout places B images of P panels each. The panels of one image sit
// Gap apart; images sit Sep apart (wider when an image has several
// panels), so x_t and its x̂₀ read as a pair.
type Layout struct {
	S, Gap     int      // panel side, gap between the panels of one image
	Sep        int      // gap between images
	B          int      // images
	Cols, Rows int      // images per row, rows
	Panels     []string // per image
	W, H       int      // frame size
	Labels     []string // compare mode: what each image is ("SVG latent", "VAE latent")
}

// NewLayout lays out B images: a row for interpolation strips (strip), else
// a near-square grid.
func NewLayout(S, B int, panels []string, strip bool) Layout {
	l := Layout{S: S, Gap: max(1, S/32), B: B, Panels: panels}
	l.Sep = l.Gap
	if len(panels) > 1 && B > 1 {
		l.Sep = max(4, S/6)
	}
	l.Cols = int(math.Ceil(math.Sqrt(float64(B))))
	if strip {
		l.Cols = B
	}
	l.Rows = (B + l.Cols - 1) / l.Cols
	l.W = l.Cols*l.imageW() + (l.Cols-1)*l.Sep
	l.H = l.Rows*l.S + (l.Rows-1)*l.Sep
	return l
}

// imageW is the width of one image's panels.
func (l Layout) imageW() int { return len(l.Panels)*(l.S+l.Gap) - l.Gap }

// Origin is the top-left pixel of panel p of image i.
func (l Layout) Origin(i, p int) (x, y int) {
	c, r := i%l.Cols, i/l.Cols
	return c*(l.imageW()+l.Sep) + p*(l.S+l.Gap), r * (l.S + l.Sep)
}

// background of the gaps and of empty cells (dark grey, opaque).
var background = [4]byte{24, 24, 27, 255}

// Compose draws the panels into a new W×H RGBA frame. imgs maps a panel name
// to the batch's pixels, B×S×S×4 (ToRGBA8's layout); a missing panel stays
// background.
func (l Layout) Compose(imgs map[string][]byte) []byte {
	out := make([]byte, l.W*l.H*4)
	for i := 0; i < len(out); i += 4 {
		copy(out[i:i+4], background[:])
	}
	S := l.S
	for p, name := range l.Panels {
		src := imgs[name]
		if len(src) < l.B*S*S*4 {
			continue
		}
		for i := range l.B {
			x0, y0 := l.Origin(i, p)
			for y := range S {
				row := src[((i*S+y)*S)*4 : ((i*S+y)*S+S)*4]
				copy(out[((y0+y)*l.W+x0)*4:], row)
			}
		}
	}
	return out
}

// Tile extracts panel p of image i from a composed frame (tests, pixels()).
func (l Layout) Tile(frame []byte, i, p int) []byte {
	x0, y0 := l.Origin(i, p)
	out := make([]byte, 0, l.S*l.S*4)
	for y := range l.S {
		out = append(out, frame[((y0+y)*l.W+x0)*4:((y0+y)*l.W+x0+l.S)*4]...)
	}
	return out
}
