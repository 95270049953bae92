package main

// The picture a run made, for the page's download button and the embed
// API's novae:image: every image of the batch once, without the other
// panels of the view.

// Picture returns the images in a composed frame (Compose's layout): the
// x̂₀ panel of each, or x_t where the view has no x̂₀ (the two agree at
// t = 1), laid out again as a grid of that one panel. ok is false when the
// frame has neither (the v view shows the velocity, not an image).
func (l Layout) Picture(frame []byte) (Layout, []byte, bool) {
	p := -1
	for _, want := range []string{PanelX0, PanelXt} {
		for i, name := range l.Panels {
			if name == want && p < 0 {
				p = i
			}
		}
	}
	if p < 0 || len(frame) < l.W*l.H*4 {
		return Layout{}, nil, false
	}
	name := l.Panels[p]
	imgs := make([]byte, 0, l.B*l.S*l.S*4)
	for i := range l.B {
		imgs = append(imgs, l.Tile(frame, i, p)...)
	}
	out := NewLayout(l.S, l.B, []string{name}, l.B > 1 && l.Rows == 1)
	return out, out.Compose(map[string][]byte{name: imgs}), true
}
