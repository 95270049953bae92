package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"novae/model"
	"novae/model/weights"
)

func init() {
	register(&command{
		Name:    "encode",
		Args:    "IMAGE...",
		Summary: "encode images (PNG/JPEG) to latents [N,T,C] in the sampler's normalised space",
		Help: `Images are centre-cropped to a square and resized to the encoders' size. T is the
encoders' token grid (image side over patch or downsampling), which need not be
the DiT's. SVG latent: the residual channels are aligned to the DINO statistics
of the whole batch, as the official autoencoder does, so encoding images
together or one by one differs slightly. VAE latent: the posterior mean of the
LDM KL autoencoder, image by image. On any error nothing is written (the file
is written beside the output and renamed into place).`,
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
				d := z.Dims() // [n, T, C]: the encoders' grid, whatever the DiT's
				if len(d) != 3 || d[0] != n || d[0]*d[1]*d[2] != len(v) {
					return fmt.Errorf("encode: the encoders returned a latent of shape %v for %d images", d, n)
				}
				T, C := d[1], d[2]
				meta := map[string]string{"weights": rt.weights, "space": "normalised", "latent": m.Cfg.LatentKind()}
				if err := writeAtomic(*out, func(w io.Writer) error {
					return weights.Write(w, []weights.Tensor{weights.F32Tensor("latent", []int{n, T, C}, v)}, meta)
				}); err != nil {
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
				if err := decodable(m.Cfg, z.Dims()); err != nil {
					return err
				}
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
	if m.Dino == nil && m.VAE == nil {
		f.Close()
		return nil, nil, nil, 0, nil, fmt.Errorf("%s has no encoders (convert it with the autoencoder checkpoint)", rt.weights)
	}
	s := m.EncoderImage()
	mean, std := m.Cfg.InputNorm()
	px, err := loadImages(paths, s, mean, std)
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

// writeAtomic writes path through a temporary file in the same directory,
// renamed into place only when write and close succeed: on any error the
// output is left as it was (absent, or the old file).
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}

// decodable refuses a latent [N,T,C] the model's decoder cannot take (an
// encoder whose grid differs from the DiT's, the decoder's input).
func decodable(cfg model.Config, d []int) error {
	T, C := cfg.DiT.Grid*cfg.DiT.Grid, cfg.DiT.InChannels
	if len(d) != 3 || d[1] != T || d[2] != C {
		return fmt.Errorf("the encoders make a latent of %v tokens × channels, the decoder of %q takes %d×%d (a %d² grid): "+
			"encode can write it, reconstruct cannot decode it", d[1:], cfg.Name, T, C, cfg.DiT.Grid)
	}
	return nil
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
	if k, ok := f.Metadata()["latent"]; ok && k != cfg.LatentKind() {
		return nil, 0, fmt.Errorf("%s: a %s latent; model %q samples a %s latent", path, k, cfg.Name, cfg.LatentKind())
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
