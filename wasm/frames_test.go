package main

import (
	"bytes"
	"testing"
)

func TestLayout(t *testing.T) {
	for _, c := range []struct {
		S, B       int
		panels     []string
		strip      bool
		cols, rows int
		w, h       int
	}{
		{8, 1, PanelsFor("both"), false, 1, 1, 17, 8},
		{8, 4, PanelsFor("final"), false, 2, 2, 17, 17},
		{8, 3, PanelsFor("x0"), true, 3, 1, 26, 8},
		{256, 9, PanelsFor("both"), false, 3, 3, 3*(2*256+8) + 2*42, 3*256 + 2*42}, // x_t|x̂₀ pairs 42 px apart
		{8, 4, PanelsFor("both"), false, 2, 2, 2*17 + 4, 2*8 + 4},
		{8, 5, PanelsFor("xt"), false, 3, 2, 26, 17},
	} {
		l := NewLayout(c.S, c.B, c.panels, c.strip)
		if l.Cols != c.cols || l.Rows != c.rows || l.W != c.w || l.H != c.h {
			t.Errorf("NewLayout(%d, %d, %v, %v) = %d×%d images, %d×%d px; want %d×%d, %d×%d",
				c.S, c.B, c.panels, c.strip, l.Cols, l.Rows, l.W, l.H, c.cols, c.rows, c.w, c.h)
		}
	}
}

func TestComposeTile(t *testing.T) {
	S, B := 4, 3
	l := NewLayout(S, B, PanelsFor("both"), false)
	img := func(v byte) []byte {
		b := make([]byte, B*S*S*4)
		for i := range b {
			b[i] = v + byte(i/(S*S*4)) // one value per image
		}
		return b
	}
	frame := l.Compose(map[string][]byte{PanelXt: img(10), PanelX0: img(100)})
	if len(frame) != l.W*l.H*4 {
		t.Fatalf("frame %d bytes", len(frame))
	}
	for i := range B {
		for p, base := range []byte{10, 100} {
			tile := l.Tile(frame, i, p)
			if want := bytes.Repeat([]byte{base + byte(i)}, S*S*4); !bytes.Equal(tile, want) {
				t.Errorf("image %d panel %d: %v…", i, p, tile[:8])
			}
		}
	}
	// The empty fourth cell and the gaps are background.
	x, y := l.Origin(3, 0)
	if o := (y*l.W + x) * 4; !bytes.Equal(frame[o:o+4], background[:]) {
		t.Errorf("empty cell %v", frame[o:o+4])
	}
	if o := (0*l.W + S) * 4; !bytes.Equal(frame[o:o+4], background[:]) {
		t.Errorf("gap %v", frame[o:o+4])
	}
	// The pairs are grouped: image 1 starts Sep (4 px here) after image 0's
	// x̂₀, and the panels of one image are Gap (1 px) apart.
	if x1, _ := l.Origin(1, 0); x1 != 2*S+1+4 || l.Sep != 4 || l.Gap != 1 {
		t.Errorf("image 1 at x = %d (gap %d, sep %d), want %d", x1, l.Gap, l.Sep, 2*S+1+4)
	}
	// A missing panel stays background.
	frame = l.Compose(map[string][]byte{PanelXt: img(10)})
	if tile := l.Tile(frame, 0, 1); !bytes.Equal(tile[:4], background[:]) {
		t.Errorf("missing panel: %v", tile[:4])
	}
}
