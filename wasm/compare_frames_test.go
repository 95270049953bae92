package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"novae/model"
)

func TestCompareLayout(t *testing.T) {
	S := 8
	l := CompareLayout(S, []string{PanelXt, PanelX0})
	if l.B != 2 || l.Cols != 2 || l.Rows != 1 || l.Sep != 4 || l.W != 2*(2*S+l.Gap)+l.Sep || l.H != S {
		t.Fatalf("layout %+v", l)
	}
	px := func(v byte) []byte { return bytes.Repeat([]byte{v, v, v, 255}, S*S) }
	f := l.Compose(Side(map[string][]byte{PanelXt: px(10), PanelX0: px(20)}, map[string][]byte{PanelXt: px(30), PanelX0: px(40)}))
	for i, want := range [][2]byte{{10, 20}, {30, 40}} {
		for p := range 2 {
			if got := l.Tile(f, i, p); !bytes.Equal(got, px(want[p])) {
				t.Errorf("image %d panel %d: got %v…, want %d", i, p, got[:4], want[p])
			}
		}
	}
	// The picture of a compare run is both final images, one panel each.
	pl, pic, ok := l.Picture(f)
	if !ok || pl.B != 2 || !bytes.Equal(pl.Tile(pic, 0, 0), px(20)) || !bytes.Equal(pl.Tile(pic, 1, 0), px(40)) {
		t.Errorf("picture: %+v ok %v", pl, ok)
	}
}

func TestTwinFits(t *testing.T) {
	m := model.Config{Name: "digits", Image: 32, Classes: []string{"0", "1"}, DiT: model.DiTConfig{NumClasses: 2}}
	ok := m
	ok.Name = "digits-vae"
	if err := TwinFits(m, ok); err != nil {
		t.Errorf("same size and classes: %v", err)
	}
	for _, c := range []struct {
		edit func(*model.Config)
		want string
	}{
		{func(c *model.Config) { c.Image = 64 }, "same size"},
		{func(c *model.Config) { c.DiT.NumClasses = 3 }, "3 classes"},
		{func(c *model.Config) { c.Classes = []string{"0", "seven"} }, `calls class 1 "seven"`},
	} {
		tw := ok
		tw.Classes = append([]string(nil), ok.Classes...)
		c.edit(&tw)
		if err := TwinFits(m, tw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}

func TestParseOptionsCompare(t *testing.T) {
	o, err := ParseOptions([]byte(`{"compare": true, "view": "x0"}`), 10, defs, fixedRnd)
	if err != nil || !o.Compare {
		t.Fatalf("compare: %+v %v", o, err)
	}
	for _, raw := range []string{`{"compare": true, "grid": 4}`, `{"compare": true, "frames": 3}`} {
		_, err := ParseOptions([]byte(raw), 10, defs, fixedRnd)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "compare" {
			t.Errorf("%s: want an error naming compare, got %v", raw, err)
		}
	}
	_, err = ParseOptions([]byte(`{"compare": "yes"}`), 10, defs, fixedRnd)
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Option != "compare" {
		t.Errorf(`compare "yes": want an error naming compare, got %v`, err)
	}
}
