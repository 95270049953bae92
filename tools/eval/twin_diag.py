#!/usr/bin/python3
"""Why one latent samples better than the other: the SVG model and its VAE-latent twin, measured side by side
from their training runs (runs/<preset>/{dino,ae,dit,vae,dit_vae}), on held-out images, in PyTorch.

Each measurement separates the autoencoder from the DiT:
  decoder     decode(normalised latent + sigma·noise) against the clean decode (PSNR; how sensitive the
              decoder is to an isotropic error of the size a DiT makes), and the PSNR of the plain round trip
  averages    the class-mean latent decoded against the class-mean picture, and the decoded midpoint of two
              same-class latents against the mean of their two decodes (is the latent space convex enough
              that the conditional means a few-step sampler produces still decode to digits?)
  denoise     teacher-forced one step: z_t = (1-t)·eps + t·z from a real held-out latent, x̂0 = z_t + (1-t)·v,
              decoded, PSNR against the image, and the latent MSE (normalised units); for the SVG latent also
              x̂0 with the true residual channels and x̂0 with the true DINO channels (where the error hurts)
  t0          at t = 0 an exact model outputs v = E[z | class] - eps, so noise + v is the class-mean latent:
              its RMS error against the class mean of 5,000 training latents, beside the RMS of those means
  spread      how the normalised latent's variance divides (5,000 training latents): the share held by the
              per-position mean, by the per-position class means (class signal), and how many principal
              directions of the whole T x C latent hold 50 / 90 / 99% of it (what the DiT has to generate)

  /usr/bin/python3 tools/eval/twin_diag.py --runs runs --preset digits [--n 256] [--out diag.json]
"""
import argparse
import contextlib
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
import common as C  # noqa: E402
import models as M  # noqa: E402
import presets as P  # noqa: E402
import train_dit  # noqa: E402


def psnr(a, b):
    """Mean PSNR over images in [-1,1] (peak-to-peak 2)."""
    return float((10 * torch.log10(4 / ((a - b) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10))).mean())


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


class Latent:
    """One model of the pair: encode (normalised tokens [N,T,C]), decode, its DiT (EMA) and training latents."""

    def __init__(self, runs, preset, kind, dev, load_dit=True):
        R = os.path.join(runs, preset)
        self.kind = kind
        if kind == "svg":
            cfg = P.get_preset(preset)
            self.vit = M.load_frozen_dino(load(f"{R}/dino/ckpt.pt"), cfg, dev)
            self.ae = M.load_frozen_ae(load(f"{R}/ae/ckpt.pt"), cfg, dev)
            st = load(f"{R}/dit/dinov3_sp_stats.pt")
            self.mean, self.std = st["dinov3_sp_mean"], st["dinov3_sp_std"]
            self.dino_ch = cfg["dino"]["embed_dim"]
            dit_dir = f"{R}/dit"
        else:
            ck = load(f"{R}/vae/ckpt.pt")
            cfg = P.get_preset(preset, ['dit.latent="vae"'])
            cfg["vae"], cfg["decoder"] = ck["cfg"]["vae"], ck["cfg"]["decoder"]
            self.vae = train_dit.load_frozen_vae(ck, dev)
            st = load(f"{R}/dit_vae/vae_latent_stats.pt")
            self.mean, self.std = st["mean"], st["std"]
            dit_dir = f"{R}/dit_vae"
        self.cfg, self.dev = cfg, dev
        self.C = P.latent_channels(cfg)
        self.dit_dir = dit_dir
        if load_dit:
            self.dit = M.build_dit(cfg)
            dck = load(f"{dit_dir}/ckpt.pt")
            self.dit.load_state_dict(dck["ema"])
            self.dit.eval()
            self.dit_step = dck["step"]
        self.train_latents = np.load(f"{dit_dir}/latents_train.npy", mmap_mode="r")

    def encode(self, x):
        if self.kind == "svg":
            ctx = argparse.Namespace(cfg=self.cfg, device=self.dev, log=lambda *a: None,
                                     autocast=contextlib.nullcontext)
            z = torch.from_numpy(train_dit.encode_dataset(ctx, self.vit, self.ae, x, 64).astype(np.float32))
        else:
            z = self.vae.encode(C.to_float_rgb(x, self.dev) * 2 - 1).mean.float().flatten(2).transpose(1, 2)
        return (z - self.mean) / self.std

    def decode(self, z):
        zz = M.tokens_to_map(z * self.std + self.mean)
        out = self.ae.decoder(zz) if self.kind == "svg" else self.vae.decode(zz)
        return out.float().clamp(-1, 1)

    def train_norm(self, n):
        z = torch.from_numpy(self.train_latents[:n, :, :self.C].astype(np.float32))  # VAE: the posterior mean
        return (z - self.mean) / self.std


def train_sample(L, ytr, n=5000):
    """The first n training latents (normalised, [n,T,C]) and their labels."""
    return L.train_norm(n), torch.as_tensor(np.asarray(ytr[:n])).long()


def class_means(z, y, K):
    """[K,T,C] class means of latents z [N,T,C] with labels y."""
    return torch.stack([z[y == k].mean(0) for k in range(K)])


@torch.no_grad()
def spread(z, cm):
    """How the variance of latents z [N,T,C] divides; cm: their class means."""
    total = float(z.pow(2).mean())
    f = (z - z.mean(0)).flatten(1).double()
    ev = torch.linalg.svdvals(f) ** 2
    c = ev.cumsum(0) / ev.sum()
    return {"position_mean_share": float(z.mean(0).pow(2).mean()) / total,
            "class_signal_share": float(cm.pow(2).mean()) / total,
            "dims": f.shape[1], **{f"pca_dims_{p}": int((c < p / 100).sum()) + 1 for p in (50, 90, 99)}}


@torch.no_grad()
def t0_error(dit, C_, cm, K):
    """At t = 0 an exact model's noise + v is the class mean: RMS error of 80 draws against it, and RMS of the means."""
    yv = torch.arange(K).repeat_interleave(max(1, 80 // K))
    eps = torch.randn(len(yv), cm.shape[1], C_, generator=torch.Generator().manual_seed(5))
    e = eps + dit(eps, torch.zeros(len(yv)), yv)[..., :C_] - cm[yv]
    return {"rms_error": float(e.pow(2).mean().sqrt()), "rms_class_mean": float(cm.pow(2).mean().sqrt())}


def run_parser(doc):
    """The flags every tool reading a run directory takes: --runs, --data, --preset."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--preset", default="digits")
    return ap


@torch.no_grad()
def main():
    ap = run_parser(__doc__)
    ap.add_argument("--n", type=int, default=256, help="held-out images")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device("cpu")
    cfg = P.get_preset(args.preset)
    x, y = C.load_split(args.data, cfg["data"]["name"], "test")
    x, y = x[:args.n], torch.as_tensor(np.asarray(y[:args.n])).long()
    _, ytr = C.load_split(args.data, cfg["data"]["name"], "train")
    K = cfg["data"]["num_classes"]
    img = C.to_float_rgb(x, dev) * 2 - 1
    res = {"preset": args.preset, "n": len(x)}
    for kind in ("svg", "vae"):
        L = Latent(args.runs, args.preset, kind, dev)
        z = L.encode(x)
        clean = L.decode(z)
        g = torch.Generator().manual_seed(0)
        r = {"dit_step": L.dit_step, "channels": L.C, "round_trip_psnr": psnr(clean, img),
             "decoder_noise_psnr": {str(s): psnr(L.decode(z + s * torch.randn(z.shape, generator=g)), clean)
                                    for s in (0.1, 0.3, 0.5)}}
        have = [k for k in range(K) if (y == k).any()]
        means = torch.stack([z[y == k].mean(0) for k in have])
        pix = torch.stack([img[y == k].mean(0) for k in have])
        r["class_mean_decode_psnr"] = psnr(L.decode(means), pix)
        a, b = [], []
        for k in have:  # same-class pairs: consecutive held-out images of class k
            idx = (y == k).nonzero().flatten()
            h = len(idx) // 2
            a.append(idx[0:2 * h:2]), b.append(idx[1:2 * h:2])
        a, b = torch.cat(a), torch.cat(b)
        r["midpoint_psnr"] = psnr(L.decode((z[a] + z[b]) / 2), (clean[a] + clean[b]) / 2)
        r["denoise"] = {}
        for t in (0.1, 0.25, 0.5, 0.75, 0.9):
            g = torch.Generator().manual_seed(1)
            zt = (1 - t) * torch.randn(z.shape, generator=g) + t * z
            xh = zt + (1 - t) * L.dit(zt, torch.full((len(z),), t), y)[..., :L.C]
            d = {"psnr": psnr(L.decode(xh), img), "latent_mse": float(((xh - z) ** 2).mean())}
            if kind == "svg":
                D = L.dino_ch
                d["psnr_true_residual"] = psnr(L.decode(torch.cat([xh[..., :D], z[..., D:]], -1)), img)
                d["psnr_true_dino"] = psnr(L.decode(torch.cat([z[..., :D], xh[..., D:]], -1)), img)
            r["denoise"][str(t)] = d
        ztr, yt = train_sample(L, ytr)
        cm = class_means(ztr, yt, K)
        r["t0"] = t0_error(L.dit, L.C, cm, K)
        r["spread"] = spread(ztr, cm)
        res[kind] = r
        print(f"{kind}: {json.dumps(r)}", flush=True)
    if args.out:
        C.write_json(args.out, res)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
