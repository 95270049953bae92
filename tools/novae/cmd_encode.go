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
		Args:    "IMAGE...",
		Summary: "encode images and decode them again (autoencoder round trip) into a PNG grid",
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var rt runtimeFlags
			rt.add(fs)
			out := fs.String("out", "reconstruction.png", "output PNG grid")
			return func(args []string, stdout io.Writer) error {
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
	b, err := rt.backend()
	if err != nil {
		return nil, nil, nil, 0, nil, err
	}
	m, f, err := rt.open(b, true)
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
