package main

// Compare mode: the page's model and its VAE-latent twin (the same DiT,
// trained the same way on the latent of a KL autoencoder) run with the same
// class, seed, steps, sampler, guidance and shift, and the canvas shows
// them side by side: the SVG latent's panels on the left, the VAE latent's
// on the right.

import (
	"fmt"

	"novae/model"
)

// CompareLabels name the two sides of a compare frame, left to right.
var CompareLabels = []string{"SVG latent", "VAE latent"}

// CompareLayout lays out one image of each model with the view's panels,
// the two images well apart so they read as two pictures.
func CompareLayout(S int, panels []string) Layout {
	l := NewLayout(S, 2, panels, true)
	l.Sep = max(4, S/4)
	l.W = l.Cols*l.imageW() + (l.Cols-1)*l.Sep
	l.Labels = CompareLabels
	return l
}

// Side joins the two models' panels, each B×S×S×4 with B = 1, into
// Compose's input for CompareLayout (image 0: svg, image 1: vae).
func Side(svg, vae map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for p, a := range svg {
		if b, ok := vae[p]; ok {
			out[p] = append(append(make([]byte, 0, len(a)+len(b)), a...), b...)
		}
	}
	return out
}

// TwinFits says whether twin can run beside m in compare mode: the same
// picture size and the same classes, so one class and one seed mean the
// same thing for both.
func TwinFits(m, twin model.Config) error {
	if twin.Image != m.Image {
		return fmt.Errorf("twin %q makes %d×%d pictures and %q %d×%d: compare needs the same size", twin.Name, twin.Image, twin.Image, m.Name, m.Image, m.Image)
	}
	if twin.DiT.NumClasses != m.DiT.NumClasses {
		return fmt.Errorf("twin %q has %d classes and %q %d: compare needs the same classes", twin.Name, twin.DiT.NumClasses, m.Name, m.DiT.NumClasses)
	}
	for i := range min(len(m.Classes), len(twin.Classes)) {
		if m.Classes[i] != twin.Classes[i] {
			return fmt.Errorf("twin %q calls class %d %q and %q calls it %q: compare needs the same classes", twin.Name, i, twin.Classes[i], m.Name, m.Classes[i])
		}
	}
	return nil
}
