package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"novae/model"
	"novae/model/weights"
)

func init() {
	register(&command{
		Name:    "encode",
		Args:    "IMAGE...",
		Summary: "encode images (PNG/JPEG) to SVG latents [N,T,C] in the sampler's normalised space",
		Help: `Images are centre-cropped to a square and resized to the model's size. The residual
channels are aligned to the DINO statistics of the whole batch, as the official
autoencoder does, so encoding images together or one by one differs slightly.`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var rt runtimeFlags
			rt.add(fs)
			out := fs.String("out", "latent.safetensors", "output safetensors (tensor \"latent\")")
			return func(args []string, stdout io.Writer) error {
				m, b, z, n, closeFn, err := encodeImages(&rt, args)
				if err != nil {
					return err
				}
				defer closeFn()
				v, err := b.Read(z)
				if err != nil {
					return err
				}
				T, C := m.Cfg.DiT.Grid*m.Cfg.DiT.Grid, m.Cfg.DiT.InChannels
				w, err := os.Create(*out)
				if err != nil {
					return err
				}
				if err := weights.Write(w, []weights.Tensor{weights.F32Tensor("latent", []int{n, T, C}, v)},
					map[string]string{"weights": rt.weights, "space": "normalised"}); err != nil {
					w.Close()
					return err
				}
				if err := w.Close(); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: latent [%d,%d,%d]\n", *out, n, T, C)
				return nil
			}
		},
	})
	register(&command{
		Name:    "reconstruct",
		Args:    "IMAGE... | -latent FILE",
		Summary: "encode images and decode them again (autoencoder round trip) into a PNG grid",
		Help: `-latent FILE decodes the latents novae encode wrote instead (no encoders needed):
image → encode → latent.safetensors → reconstruct -latent → PNG gives the same
pixels as reconstruct of the same images on the same backend.`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var rt runtimeFlags
			rt.add(fs)
			out := fs.String("out", "reconstruction.png", "output PNG grid")
			latent := fs.String("latent", "", "decode the tensor \"latent\" of this `file` (written by novae encode) instead of images")
			return func(args []string, stdout io.Writer) error {
				if *latent != "" {
					if len(args) > 0 {
						return usagef("give images or -latent, not both")
					}
					return decodeLatent(&rt, *latent, *out, stdout)
				}
				m, b, z, n, closeFn, err := encodeImages(&rt, args)
				if err != nil {
					return err
				}
				defer closeFn()
				px, err := b.ToRGBA8(m.Decode(b, z, n), n, m.Cfg.Image, m.Cfg.Image)
				if err != nil {
					return err
				}
				if err := writeGrid(*out, px, n, m.Cfg.Image, 0); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: %d reconstructions\n", *out, n)
				return nil
			}
		},
	})
}

func encodeImages(rt *runtimeFlags, paths []string) (*model.SVG, model.Backend, model.Tensor, int, func(), error) {
	if len(paths) == 0 {
		return nil, nil, nil, 0, nil, usagef("give at least one image")
	}
	b, m, f, err := rt.load(true)
	if err != nil {
		return nil, nil, nil, 0, nil, err
	}
	if m.Dino == nil {
		f.Close()
		return nil, nil, nil, 0, nil, fmt.Errorf("%s has no encoders (convert it with the autoencoder checkpoint)", rt.weights)
	}
	s := m.EncoderImage()
	px, err := loadImages(paths, s)
	if err != nil {
		f.Close()
		return nil, nil, nil, 0, nil, err
	}
	n := len(paths)
	z, err := m.Encode(b, b.Upload(px, n, 3, s, s), n)
	if err != nil {
		f.Close()
		return nil, nil, nil, 0, nil, err
	}
	return m, b, z, n, func() { f.Close() }, nil
}

// maxLatents bounds the batch a latent file may ask to decode (as -batch
// bounds sample's), so a hostile header cannot make us allocate without end.
const maxLatents = 256

// decodeLatent decodes the latents of an encode output file into a PNG grid.
func decodeLatent(rt *runtimeFlags, path, out string, stdout io.Writer) error {
	b, m, f, err := rt.load(false)
	if err != nil {
		return err
	}
	defer f.Close()
	v, n, err := readLatent(path, m.Cfg)
	if err != nil {
		return err
	}
	cfg := m.Cfg
	z := b.Upload(v, n, cfg.DiT.Grid*cfg.DiT.Grid, cfg.DiT.InChannels)
	px, err := b.ToRGBA8(m.Decode(b, z, n), n, cfg.Image, cfg.Image)
	if err != nil {
		return err
	}
	if err := writeGrid(out, px, n, cfg.Image, 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d images decoded from %s\n", out, n, path)
	return nil
}

// readLatent reads the tensor "latent" [N,T,C] of an encode output and
// checks it against the model: T tokens of C channels, normalised space.
func readLatent(path string, cfg model.Config) ([]float32, int, error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	info, ok := f.Info("latent")
	if !ok {
		return nil, 0, fmt.Errorf("%s: no tensor \"latent\" (write one with novae encode)", path)
	}
	if sp, ok := f.Metadata()["space"]; ok && sp != "normalised" {
		return nil, 0, fmt.Errorf("%s: latent in %q space; reconstruct decodes the normalised latents novae encode writes", path, sp)
	}
	T, C := cfg.DiT.Grid*cfg.DiT.Grid, cfg.DiT.InChannels
	s := info.Shape
	if len(s) != 3 || s[1] != T || s[2] != C || s[0] < 1 || s[0] > maxLatents {
		return nil, 0, fmt.Errorf("%s: latent %v does not fit model %q: want [N,%d,%d] (%d tokens of %d channels, 1 ≤ N ≤ %d)",
			path, s, cfg.Name, T, C, T, C, maxLatents)
	}
	v, err := f.F32("latent")
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, s[0], nil
}
