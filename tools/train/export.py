#!/usr/bin/python3
"""Export the three trained phases in the OFFICIAL SVG checkpoint layouts — the same files a user with official
weights has — plus a JSON with the small configs:

  <out>/svg_<preset>_dit.pt                {"ema": DiT state_dict}                      (train_svg.py layout)
  <out>/svg_<preset>_autoencoder.ckpt      Lightning {"state_dict": {encoder.*, extra_vit.*, decoder.*,
                                           mask_token, norm_vit.*}, "epoch", "global_step", ...}
  <out>/dinov3_sp_stats.pt                 {"dinov3_sp_mean": [1,1,C], "dinov3_sp_std": [1,1,C]}
  <out>/svg_<preset>_config.json           module configs (official argument names), classes, sampler defaults

Then reloads every file into fresh reference twins (tools/reference/svg_modules.py) with strict=True, checks
they reproduce the training modules, and reports held-out PSNR and a few finite samples — so the files are known
to load exactly as official weights do. Convert them for novae with (converter: tools/novae, model/convert):

  go run ./tools/novae convert --dit <out>/svg_<preset>_dit.pt --ae <out>/svg_<preset>_autoencoder.ckpt \\
      --stats <out>/dinov3_sp_stats.pt --config <out>/svg_<preset>_config.json --out <weights dir>

  /usr/bin/python3 tools/train/export.py --preset digits [--out runs/digits/export]

--latent vae exports the VAE-latent twin instead (phases vae and dit_vae: train_vae.py, train_dit.py --latent vae)
into <runs>/<preset>/export_vae, in the LDM layouts:

  <out>/vae_<preset>_dit.pt                {"ema": DiT state_dict} (in_channels = embed_dim)
  <out>/vae_<preset>_autoencoder.ckpt      Lightning {"state_dict": {encoder.*, decoder.*, quant_conv.*,
                                           post_quant_conv.*}} (ldm.models.autoencoder.AutoencoderKL keys)
  <out>/vae_latent_stats.pt                {"mean": [1,1,E], "std": [1,1,E]}: per-channel statistics of the
                                           posterior means over the training set (the latent normalisation)
  <out>/vae_<preset>_config.json           ddconfig, embed_dim, dit, sampler defaults, input range [-1,1]

  go run ./tools/novae convert -dit <out>/vae_<preset>_dit.pt -ae <out>/vae_<preset>_autoencoder.ckpt \\
      -stats <out>/vae_latent_stats.pt -name <preset>-vae -out <weights>
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import models as M  # noqa: E402
import presets as P  # noqa: E402
import svg_modules as S  # noqa: E402
import vae_modules as V  # noqa: E402


def report(out, paths, n, ok, checks):
    """Prints what was written (dit, autoencoder, stats files; parameters per network) and the checks; exits 1 unless ok."""
    sizes = dict(zip(("dit", "autoencoder", "stats"), map(os.path.getsize, paths)))
    print(f"[export] wrote {out}: " + ", ".join(f"{k} {v / 2 ** 20:.1f} MiB" for k, v in sizes.items()))
    print("[export] params: " + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in n.items()) +
          f" (total {sum(n.values()) / 1e6:.2f}M, {sum(n.values()) / 2 ** 20:.1f} MiB at int8)")
    print(f"[export] {checks}")
    print(f"[export] {'OK' if ok else 'FAILED'}; next: go run ./tools/novae convert (see tools/train/README.md)")
    sys.exit(0 if ok else 1)


def export_vae(args):
    """The VAE-latent twin in the LDM layouts (see the module docstring), reloaded and checked like the SVG files."""
    out = args.out or os.path.join(args.runs, args.preset, "export_vae")
    os.makedirs(out, exist_ok=True)
    ck = {"vae": C.load_phase(args, args.preset, "vae"), "dit": C.load_phase(args, args.preset, "dit_vae")}
    cfg = ck["dit"]["cfg"]
    dd, E = ck["vae"]["ddconfig"], ck["vae"]["embed_dim"]
    name = f"vae_{args.preset}"
    tw = V.AutoencoderKL(dd, E)
    tw.load_state_dict(ck["vae"]["model"], strict=True)
    ae_path = os.path.join(out, f"{name}_autoencoder.ckpt")
    torch.save({"epoch": 0, "global_step": ck["vae"]["step"], "pytorch-lightning_version": "2.0.0",
                "state_dict": tw.state_dict()}, ae_path)
    dit_path = os.path.join(out, f"{name}_dit.pt")
    torch.save({"ema": ck["dit"]["ema"]}, dit_path)
    st = torch.load(os.path.join(args.runs, args.preset, "dit_vae", "vae_latent_stats.pt"), weights_only=False)
    stats_path = os.path.join(out, "vae_latent_stats.pt")
    torch.save({"mean": st["mean"].float().contiguous(), "std": st["std"].float().contiguous()}, stats_path)
    d = cfg["dit"]
    ditcfg = P.dit_cfg(cfg)
    meta_p = os.path.join(args.data, cfg["data"]["name"], "meta.json")
    meta = json.load(open(meta_p)) if os.path.exists(meta_p) else {}
    conf = {
        "format": "novae-vae-small/1", "model": args.preset, "image_size": cfg["data"]["image_size"],
        "latent_grid": P.latent_grid(cfg), "latent_channels": E, "num_classes": cfg["data"]["num_classes"],
        "class_names": meta.get("classes"),
        "input": "RGB in [-1,1] (grey digits replicated to 3 channels)", "output": "RGB in about [-1,1]",
        "ddconfig": dd, "embed_dim": E, "kl_weight": cfg["vae"]["kl_weight"], "dit": ditcfg,
        "latent_normalisation": "per channel: (posterior mean - mean) / std, statistics over the training set",
        "sampler": {"steps": d["sample_steps"], "cfg": d["cfg"], "shift": d["sample_shift"], "mode": "euler",
                    "cfg_mode": "constant", "null_class": cfg["data"]["num_classes"]},
        "training": {"shift": d["shift"], "vae_steps": ck["vae"]["step"], "dit_steps": ck["dit"]["step"]},
        "files": {"dit": os.path.basename(dit_path), "autoencoder": os.path.basename(ae_path),
                  "stats": os.path.basename(stats_path)},
    }
    conf_path = os.path.join(out, f"{name}_config.json")
    C.write_json(conf_path, conf)

    # ---- reload into fresh twins (strict) and check ----
    vae = V.AutoencoderKL(conf["ddconfig"], conf["embed_dim"]).eval()
    vae.load_state_dict(torch.load(ae_path, weights_only=False)["state_dict"], strict=True)
    dit = S.DiT(**conf["dit"]).eval()
    dit.load_state_dict(torch.load(dit_path, weights_only=False)["ema"], strict=True)
    st = torch.load(stats_path, weights_only=False)
    xte, _ = C.load_split(args.data, cfg["data"]["name"], "test")
    x = C.to_float_rgb(xte[:32], "cpu")
    with torch.no_grad():
        rec = vae.decode(vae.encode(x * 2 - 1).mode()).clamp(-1, 1)
        psnr = float((-10 * ((rec + 1) / 2 - x).pow(2).mean((1, 2, 3)).log10()).mean())
        g = conf["latent_grid"]
        noise = torch.randn(4, g * g, E, generator=torch.Generator().manual_seed(0))
        y = torch.arange(4) % conf["num_classes"]
        z = S.rf_sample(dit, noise, y, torch.full_like(y, conf["num_classes"]), steps=4, cfg=d["cfg"],
                        shift=d["sample_shift"])
        img = vae.decode(S.tokens_to_map(z * st["std"] + st["mean"]))
    ok = bool(torch.isfinite(img).all().item())
    n = {"encoder": M.n_params(vae.encoder) + M.n_params(vae.quant_conv),
         "decoder": M.n_params(vae.decoder) + M.n_params(vae.post_quant_conv), "dit": M.n_params(dit)}
    report(out, (dit_path, ae_path, stats_path), n, ok,
           f"strict reload OK; held-out PSNR (32 imgs, fp32, posterior mean) {psnr:.2f} dB; 4-step samples finite: {ok}")


def main():
    ap = C.base_parser(__doc__)
    ap.add_argument("--out", help="output dir (default <runs>/<preset>/export, or export_vae with --latent vae)")
    ap.add_argument("--latent", choices=["svg", "vae"], default="svg",
                    help="export the SVG model (phases dino, ae, dit) or its VAE-latent twin (vae, dit_vae)")
    args = ap.parse_args()
    if args.latent == "vae":
        torch.set_num_threads(args.threads or os.cpu_count())
        return export_vae(args)
    cfg = P.get_preset(args.preset, args.set)
    out = args.out or os.path.join(args.runs, args.preset, "export")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(args.threads or os.cpu_count())
    ck = {ph: C.load_phase(args, args.preset, ph) for ph in ("dino", "ae", "dit")}
    cfg = ck["dit"]["cfg"]  # the run's own config wins over the preset (it may have had --set overrides)
    stats = torch.load(os.path.join(args.runs, args.preset, "dit", "dinov3_sp_stats.pt"), weights_only=False)
    name = f"svg_{args.preset}"
    dcfg, vcfg, decfg, ditcfg = P.dino_cfg(cfg), P.vit_cfg(cfg), P.dec_cfg(cfg), P.dit_cfg(cfg)

    # ---- autoencoder: Lightning checkpoint with the official prefixes ----
    ae_tw = S.SVGAutoencoder(dcfg, vcfg, decfg, embed_dim=32, mask_ratio=cfg["ae"]["mask_ratio"])
    ae_sd = ck["ae"]["model"]
    sd = {f"encoder.{k}": v for k, v in ck["dino"]["teacher_backbone"].items()}
    sd.update({k: v for k, v in ae_sd.items() if k.startswith(("extra_vit.", "decoder.", "mask_token"))})
    sd.update({k: v for k, v in ae_tw.state_dict().items() if k.startswith("norm_vit.")})  # unused, as official
    ae_tw.load_state_dict(sd, strict=True)
    ae_path = os.path.join(out, f"{name}_autoencoder.ckpt")
    torch.save({"epoch": 0, "global_step": ck["ae"]["step"], "pytorch-lightning_version": "2.0.0",
                "state_dict": ae_tw.state_dict()}, ae_path)

    # ---- DiT: {"ema": state_dict} ----
    dit_path = os.path.join(out, f"{name}_dit.pt")
    torch.save({"ema": ck["dit"]["ema"]}, dit_path)
    stats_path = os.path.join(out, "dinov3_sp_stats.pt")
    torch.save({"dinov3_sp_mean": stats["dinov3_sp_mean"].float().contiguous(),
                "dinov3_sp_std": stats["dinov3_sp_std"].float().contiguous()}, stats_path)

    meta_p = os.path.join(args.data, cfg["data"]["name"], "meta.json")
    meta = json.load(open(meta_p)) if os.path.exists(meta_p) else {}
    d = cfg["dit"]
    conf = {
        "format": "novae-svg-small/1",
        "model": args.preset,
        "image_size": cfg["data"]["image_size"],
        "patch_size": dcfg["patch_size"],
        "latent_grid": P.latent_grid(cfg),
        "latent_channels": P.latent_channels(cfg),
        "dino_channels": dcfg["embed_dim"],
        "residual_channels": vcfg["output_dim"],
        "num_classes": cfg["data"]["num_classes"],
        "class_names": meta.get("classes"),
        "input": "RGB in [0,1] (grey digits replicated to 3 channels), normalised with ImageNet mean/std",
        "input_mean": list(C.IMAGENET_MEAN), "input_std": list(C.IMAGENET_STD),
        "output": "RGB in about [-1,1]; clamp, then (x+1)/2",
        "dino": dcfg, "residual_vit": vcfg, "decoder": decfg, "dit": ditcfg,
        "autoencoder": {"embed_dim": 32, "mask_ratio": cfg["ae"]["mask_ratio"], "use_outnorm": True},
        "sampler": {"steps": d["sample_steps"], "cfg": d["cfg"], "shift": d["sample_shift"], "mode": "euler",
                    "cfg_mode": "constant", "null_class": cfg["data"]["num_classes"]},
        "training": {"shift": d["shift"], "dino_steps": ck["dino"]["step"], "ae_steps": ck["ae"]["step"],
                     "dit_steps": ck["dit"]["step"]},
        "files": {"dit": os.path.basename(dit_path), "autoencoder": os.path.basename(ae_path),
                  "stats": os.path.basename(stats_path)},
        "data_attribution": "see data/ATTRIBUTION.md (MNIST CC BY-SA 3.0; Twemoji CC-BY 4.0; Noto Apache-2.0)",
    }
    conf_path = os.path.join(out, f"{name}_config.json")
    C.write_json(conf_path, conf)

    # ---- reload the files into fresh twins (strict) and check them ----
    tw_ae = S.SVGAutoencoder(conf["dino"], conf["residual_vit"], conf["decoder"], embed_dim=32,
                             mask_ratio=conf["autoencoder"]["mask_ratio"]).eval()
    tw_ae.load_state_dict(torch.load(ae_path, weights_only=False)["state_dict"], strict=True)
    tw_dit = S.DiT(**conf["dit"]).eval()
    tw_dit.load_state_dict(torch.load(dit_path, weights_only=False)["ema"], strict=True)
    st = torch.load(stats_path, weights_only=False)
    xte, _ = C.load_split(args.data, cfg["data"]["name"], "test")
    x = C.to_float_rgb(xte[:32], "cpu")
    xn = C.imagenet_norm(x)
    with torch.no_grad():
        parts = tw_ae.encode_parts(xn)
        rec = tw_ae.decode(parts["latent_map"]).clamp(-1, 1)
        psnr = float((-10 * ((rec + 1) / 2 - x).pow(2).mean((1, 2, 3)).log10()).mean())
        # same result through the training modules (fp32, no autocast)?
        vit = M.load_frozen_dino(ck["dino"], cfg, "cpu")
        ae = M.load_frozen_ae(ck["ae"], cfg, "cpu")
        z_tr = ae.encode(xn, M.patch_features(vit, xn))
        dz = float((z_tr - parts["latent_map"]).abs().max())
        noise = torch.randn(4, P.latent_grid(cfg) ** 2, P.latent_channels(cfg), generator=torch.Generator()
                            .manual_seed(0))
        y = torch.arange(4) % conf["num_classes"]
        z = S.rf_sample(tw_dit, noise, y, torch.full_like(y, conf["num_classes"]), steps=4, cfg=d["cfg"],
                        shift=d["sample_shift"])
        img = tw_ae.decode(S.tokens_to_map(S.denormalize(z, st["dinov3_sp_mean"], st["dinov3_sp_std"])))
    ok = torch.isfinite(img).all().item() and dz < 1e-3
    n = {"dino": M.n_params(tw_ae.encoder), "residual_vit": M.n_params(tw_ae.extra_vit),
         "decoder": M.n_params(tw_ae.decoder), "dit": M.n_params(tw_dit)}
    report(out, (dit_path, ae_path, stats_path), n, ok,
           f"strict reload OK; twin vs training latent max|diff| {dz:.2e}; held-out PSNR (32 imgs, fp32) {psnr:.2f} dB; "
           f"4-step samples finite: {torch.isfinite(img).all().item()}")


if __name__ == "__main__":
    main()
