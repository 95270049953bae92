package main

import (
	"flag"
	"io"

	"novae/model"
	"novae/model/convert"
)

func init() {
	register(&command{
		Name:    "convert",
		Summary: "build one novae weights file from the official SVG checkpoints",
		Help: `Reads the official DiT checkpoint (state dict at the top or under "ema"/"model";
PyTorch zip or .safetensors) and the autoencoder's Lightning checkpoint
(encoder./extra_vit./decoder.; loss.*, mask_token and norm_vit.* are ignored and
reported), optionally the DINOv3 weights alone and dinov3_sp_stats.pt, and writes
dit.*, decoder.*, encoder.*, extra_vit.*, latent.mean/std with the config in the
metadata. The config is inferred from the shapes; what shapes cannot tell comes
from -preset or -config (the residual ViT's heads unless it has the official
sizes; the DiT's heads without qk_norm unless it has a paper size; GroupNorm
groups), and the -*-heads/-groups/-grid/-name flags override both. Every key and
shape is checked; a mismatch lists all offending keys. Nothing is written on error.

An LDM KL autoencoder checkpoint (encoder., quant_conv., post_quant_conv.,
decoder.: the VAE-latent twin written by tools/train/export.py --latent vae, or
any AutoencoderKL) makes a model of latent kind "vae"; its -stats file holds
"mean" and "std" [1,1,C].

example:
  novae convert -dit svg_xl.pt -ae svg_autoencoder.ckpt -stats dinov3_sp_stats.pt \
      -preset svg-xl -quant int8 -out svg-xl-int8.safetensors`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var o convert.Options
			var w writeFlags
			var preset, cfgFile string
			fs.StringVar(&o.DiT, "dit", "", "official DiT checkpoint `file` (required)")
			fs.StringVar(&o.AE, "ae", "", "official autoencoder checkpoint `file` (Lightning; required)")
			fs.StringVar(&o.Dino, "dino", "", "DINOv3 weights `file` alone (replaces the autoencoder's encoder.*)")
			fs.StringVar(&o.Stats, "stats", "", "latent statistics `file` (dinov3_sp_stats.pt)")
			fs.StringVar(&preset, "preset", "", "base config: svg-xl, svg-l, svg-b or tiny")
			fs.StringVar(&cfgFile, "config", "", "base config JSON `file` (model.Config; laid over -preset)")
			fs.StringVar(&o.Override.Name, "name", "", "model name in the config")
			fs.IntVar(&o.Override.DiTHeads, "dit-heads", 0, "DiT attention heads (inferred from qk_norm when present)")
			fs.IntVar(&o.Override.DinoHeads, "dino-heads", 0, "DINOv3 heads (inferred from rope_embed.periods)")
			fs.IntVar(&o.Override.ResidualHeads, "vit-heads", 0, "residual ViT heads (not in the checkpoint; the official ViT: 8)")
			fs.IntVar(&o.Override.Groups, "groups", 0, "decoder GroupNorm groups (default 32)")
			fs.IntVar(&o.Override.Grid, "grid", 0, "DiT token grid side when the checkpoint has no pos_embed (default 16)")
			fs.BoolVar(&o.NoEncoders, "no-encoders", false, "leave out DINOv3 and the residual ViT (generation only)")
			quiet := fs.Bool("q", false, "print nothing but errors")
			w.add(fs)
			return func(args []string, stdout io.Writer) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if o.DiT == "" || o.AE == "" {
					return usagef("-dit and -ae are required")
				}
				var err error
				if o.Output, o.Quant, err = w.get(); err != nil {
					return err
				}
				var base *model.Config
				if preset != "" {
					c, err := convert.Preset(preset)
					if err != nil {
						return usagef("%v", err)
					}
					base, o.BaseName = &c, "preset "+preset
				}
				if cfgFile != "" {
					c, err := convert.LoadConfig(cfgFile, base)
					if err != nil {
						return err
					}
					base, o.BaseName = &c, "config "+cfgFile
				}
				o.Base = base
				if !*quiet {
					o.Log = stdout
				}
				return convert.Convert(o)
			}
		},
	})
}
