package main

import (
	"bytes"
	"testing"
)

// fill makes B solid S×S images whose colour encodes (panel, image).
func fill(B, S int, panel byte) []byte {
	out := make([]byte, 0, B*S*S*4)
	for i := range B {
		for range S * S {
			out = append(out, panel, byte(i), 7, 255)
		}
	}
	return out
}

func TestPicture(t *testing.T) {
	const S = 4
	for _, c := range []struct {
		panels []string
		B      int
		strip  bool
		want   byte // the panel the picture is taken from (fill's colour)
	}{
		{[]string{PanelXt, PanelX0}, 1, false, 2},
		{[]string{PanelXt, PanelX0}, 5, false, 2},
		{[]string{PanelXt}, 4, false, 1},
		{[]string{PanelX0}, 3, true, 2},
	} {
		l := NewLayout(S, c.B, c.panels, c.strip)
		frame := l.Compose(map[string][]byte{PanelXt: fill(c.B, S, 1), PanelX0: fill(c.B, S, 2)})
		pl, pic, ok := l.Picture(frame)
		if !ok {
			t.Fatalf("%v: no picture", c.panels)
		}
		if pl.B != c.B || len(pl.Panels) != 1 || pl.Cols != l.Cols || pl.Rows != l.Rows || len(pic) != pl.W*pl.H*4 {
			t.Errorf("%v B=%d: layout %+v (frame's %+v), %d bytes", c.panels, c.B, pl, l, len(pic))
		}
		for i := range c.B {
			if got, want := pl.Tile(pic, i, 0), fill(1, S, c.want); !bytes.Equal(got, func() []byte {
				for k := 1; k < len(want); k += 4 {
					want[k] = byte(i)
				}
				return want
			}()) {
				t.Errorf("%v B=%d: image %d is %v…, want panel %d", c.panels, c.B, i, got[:4], c.want)
			}
		}
	}
	l := NewLayout(S, 2, []string{PanelV}, false)
	if _, _, ok := l.Picture(l.Compose(nil)); ok {
		t.Error("a frame of velocities gave a picture")
	}
}
