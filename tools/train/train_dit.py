#!/usr/bin/python3
"""Phase 3: class-conditional DiT (patch size 1) with rectified flow on SVG's normalised latent.

1. Encodes the training set once with the frozen phase-1 DINO + phase-2 residual ViT (match_distribution over
   batches of the AE batch size, as the decoder was trained) -> <run>/latents_train.npy (float16 [N,T,C]), and
   the per-channel mean/std over all tokens -> <run>/dinov3_sp_stats.pt (official format, [1,1,C] each).
2. Trains the DiT as the official RectifiedFlow: z = (latent - mean)/std, t = shift(U[0,1], s) with
   shift(b) = s*b/(1+(s-1)*b) (s = 0.4 as in SVG's training), z_t = (1-t)*eps + t*z, target v = z - eps,
   MSE on the first C output channels (learn_sigma layout), class dropout 0.1 to the null class (CFG), EMA.
3. At the end samples a grid with the EMA weights (Euler, CFG, shift 0.15 as the official sampler) and decodes it.

  /usr/bin/python3 tools/train/train_dit.py --preset digits   # needs runs/digits/{dino,ae}/ckpt.pt; resumes
  torchrun --nproc_per_node=N tools/train/train_dit.py --preset emoji

--latent vae trains the same DiT (same width, depth, heads, steps, schedule, shift, class dropout; only the
input/output width differs) on the VAE twin's latent instead (runs/<preset>/vae/ckpt.pt, train_vae.py), in
runs/<preset>/dit_vae/: the cache holds the posterior mean and std of every training image, each step trains on
a posterior sample (z = mean + std * eps, as LDM / SiT train on SD-VAE latents), normalised per channel with the
statistics of those samples over the training set (E[mu]; Var[mu] + E[sigma^2]) -> vae_latent_stats.pt
({"mean", "std"} [1,1,C]), which the converted model applies to the posterior mean at encode time.

--snapshot-every N keeps the EMA DiT every N steps and at the last step as <run>/snapshots/dit_step<step>.pt
({"ema": state dict}, the layout export.py gives the DiT): the points of the convergence curve (`novae curve`).
"""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import common as C
import models as M
import presets as P
from svg_modules import shift_time

import train_vae


@torch.no_grad()
def encode_dataset(ctx, vit, ae, x, bs):
    """Latents [N,T,C] float16 (DINO patch tokens | aligned residual), batch statistics over `bs` images."""
    out = np.zeros((len(x), P.latent_grid(ctx.cfg) ** 2, P.latent_channels(ctx.cfg)), np.float16)
    Pf = 1 + vit.n_storage_tokens
    t0 = time.time()
    for i in range(0, len(x), bs):
        xb = C.imagenet_norm(C.to_float_rgb(x[i:i + bs], ctx.device))
        with ctx.autocast():
            patch = M.dino_tokens(vit, xb)[0][:, Pf:]
            z = ae.encode(xb, patch)  # [B,C,g,g]
        out[i:i + bs] = z.flatten(2).transpose(1, 2).float().cpu().numpy()
        if (i // bs) % 50 == 0:
            ctx.log(f"encoding {i + len(xb)}/{len(x)} ({time.time() - t0:.0f}s)")
    return out


@torch.no_grad()
def encode_dataset_vae(ctx, vae, x, bs):
    """VAE posterior [N,T,2C] float16: mean tokens | std tokens (images in [-1,1])."""
    C_ = P.latent_channels(ctx.cfg)
    out = np.zeros((len(x), P.latent_grid(ctx.cfg) ** 2, 2 * C_), np.float16)
    t0 = time.time()
    for i in range(0, len(x), bs):
        xb = C.to_float_rgb(x[i:i + bs], ctx.device) * 2 - 1
        with ctx.autocast():
            post = vae.encode(xb)
        mom = torch.cat([post.mean.float(), post.std.float()], dim=1)  # [B,2C,g,g]
        out[i:i + bs] = mom.flatten(2).transpose(1, 2).cpu().numpy()
        if (i // bs) % 50 == 0:
            ctx.log(f"encoding {i + len(xb)}/{len(x)} ({time.time() - t0:.0f}s)")
    return out


def load_frozen_vae(ck, device):
    """The trained VAE as its run built it (ddconfig and embed_dim from the checkpoint)."""
    vae = M.fp32_norms(train_vae.V.AutoencoderKL(ck["ddconfig"], ck["embed_dim"]))
    vae.load_state_dict(ck["model"], strict=True)
    vae.to(device).eval()
    for p in vae.parameters():
        p.requires_grad = False
    return vae


def vae_sample_stats(lat, C_, chunk=4096):
    """Per-channel mean and std of posterior SAMPLES (what the DiT trains on) from the cached mean | std:
    E[z] = E[mu], Var[z] = Var[mu] + E[sigma^2]."""
    mean, std_mu = latent_stats(lat[..., :C_], chunk)
    s2, n = 0.0, 0
    for i in range(0, len(lat), chunk):
        sg = torch.from_numpy(lat[i:i + chunk, :, C_:].astype(np.float64)).flatten(0, 1)
        s2 = s2 + (sg * sg).sum(0)
        n += sg.shape[0]
    return mean, (std_mu.double().view(-1) ** 2 + s2 / n).sqrt().float().view(1, 1, -1)


def latent_stats(lat, chunk=4096):
    s, ss, n = 0.0, 0.0, 0
    for i in range(0, len(lat), chunk):
        z = torch.from_numpy(lat[i:i + chunk].astype(np.float64)).flatten(0, 1)
        s = s + z.sum(0)
        ss = ss + (z * z).sum(0)
        n += z.shape[0]
    mean = s / n
    std = ((ss - n * mean * mean) / (n - 1)).clamp_min(1e-12).sqrt()
    return mean.float().view(1, 1, -1), std.float().view(1, 1, -1)


def save_snapshot(ctx, ema, step):
    """The EMA DiT at `step` as <run>/snapshots/dit_step<step>.pt (written atomically; an existing one is kept)."""
    d = os.path.join(ctx.run_dir, "snapshots")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f"dit_step{step:06d}.pt")
    if os.path.exists(p):
        return
    torch.save({"ema": {k: v.detach().float().cpu() for k, v in ema.state_dict().items()}}, p + ".tmp")
    os.replace(p + ".tmp", p)
    ctx.log(f"snapshot {p}")


def main():
    ap = C.base_parser(__doc__)
    ap.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                    help="save the EMA DiT every N steps and at the last as <run>/snapshots/dit_step<step>.pt "
                         "(the convergence curve's points; 0: none)")
    ap.add_argument("--snapshots", type=int, default=0, metavar="K",
                    help="K snapshots evenly spaced over the run, i.e. --snapshot-every total/K, taken after "
                         "--fit-minutes has set the step count (for runs whose length is not known in advance)")
    ap.add_argument("--recache", action="store_true", help="re-encode the latent cache")
    ap.add_argument("--latent", choices=["svg", "vae"], default="svg",
                    help="the latent the DiT samples: SVG's (dino + ae phases) or the VAE twin's (vae phase); "
                         "vae runs in <runs>/<preset>/dit_vae")
    args = ap.parse_args()
    vae_mode = args.latent == "vae"
    if vae_mode:
        args.set = list(args.set) + ["dit.latent=vae"]
    ctx = C.Ctx(args, "dit")
    if vae_mode:
        ctx.run_dir = os.path.join(args.runs, args.preset, "dit_vae")
        if ctx.main:
            os.makedirs(ctx.run_dir, exist_ok=True)
    cfg, d = ctx.cfg, ctx.cfg["dit"]
    total = args.steps or d["steps"]
    gbatch = args.batch or d["batch"]
    bs = C.per_rank_batch(ctx, gbatch)
    dev = ctx.device
    ncls = cfg["data"]["num_classes"]

    xtr, ytr = C.train_split(args, cfg)

    # ---- latent cache + statistics (rank 0 writes, everyone reads) ----
    lat_p = os.path.join(ctx.run_dir, "latents_train.npy")
    src_p = os.path.join(ctx.run_dir, "latents_source.json")
    if vae_mode:
        ck_vae = C.load_phase(args, args.preset, "vae")
        # the latent's width and grid follow the VAE as trained (its run may have had --set overrides)
        cfg["vae"], cfg["decoder"] = ck_vae["cfg"]["vae"], ck_vae["cfg"]["decoder"]
        stats_p = os.path.join(ctx.run_dir, "vae_latent_stats.pt")
        src = {"vae_step": ck_vae["step"], "n": len(xtr)}
        vae = load_frozen_vae(ck_vae, dev)
        decode = vae.decode
        keys = ("mean", "std")
    else:
        ck_dino = C.load_phase(args, args.preset, "dino")
        ck_ae = C.load_phase(args, args.preset, "ae")
        stats_p = os.path.join(ctx.run_dir, "dinov3_sp_stats.pt")
        src = {"dino_step": ck_dino["step"], "ae_step": ck_ae["step"], "n": len(xtr),
               "encode_batch": cfg["ae"]["batch"]}
        vit = M.load_frozen_dino(ck_dino, cfg, dev)
        ae = M.load_frozen_ae(ck_ae, cfg, dev)
        decode = ae.decoder
        keys = ("dinov3_sp_mean", "dinov3_sp_std")
    Cc = P.latent_channels(cfg)
    if ctx.main:
        fresh = (args.recache or not os.path.exists(lat_p) or not os.path.exists(stats_p)
                 or not os.path.exists(src_p) or json.load(open(src_p)) != src)
        if fresh:
            ctx.log(f"encoding {len(xtr)} training images into the latent cache")
            if vae_mode:
                lat = encode_dataset_vae(ctx, vae, xtr, 256)
            else:
                lat = encode_dataset(ctx, vit, ae, xtr, cfg["ae"]["batch"])
            np.save(lat_p + ".tmp.npy", lat)
            os.replace(lat_p + ".tmp.npy", lat_p)
            if vae_mode:
                mean, std = vae_sample_stats(lat, Cc)
            else:
                mean, std = latent_stats(lat)
            torch.save({keys[0]: mean, keys[1]: std}, stats_p)
            C.write_json(src_p, src)
            ctx.log(f"latent cache {lat.shape} float16 ({lat.nbytes / 2 ** 20:.0f} MiB); std range "
                    f"{float(std.min()):.3f}..{float(std.max()):.3f}")
    ctx.barrier()
    lat = np.load(lat_p, mmap_mode="r")
    st = torch.load(stats_p, weights_only=False)
    mean, std = st[keys[0]].to(dev), st[keys[1]].to(dev)
    batches = C.Batches(len(lat), bs, ctx, args.seed)

    # ---- model, EMA, optimiser, resume ----
    model = M.build_dit(cfg)
    ema = M.copy_module(model)
    lr_peak = d["lr"] * gbatch / 128
    opt = torch.optim.AdamW(model.parameters(), lr=lr_peak, betas=(0.9, 0.999), weight_decay=0.0)
    start, _ = C.resume(ctx, opt, model=model, ema=ema)
    model.to(dev)
    ema.to(dev).eval()
    net = DDP(model) if ctx.distributed else model
    ctx.log(f"DiT {M.n_params(model) / 1e6:.2f}M params, latent {lat.shape[1]}x{Cc}; {total} steps, global batch "
            f"{gbatch} ({ctx.world} x {bs}), shift {d['shift']}, device {dev}, threads {torch.get_num_threads()}")
    if ctx.main:
        C.write_json(os.path.join(ctx.run_dir, "config.json"), {"cfg": cfg, "args": vars(args)})
    prog = C.Progress(ctx, start, total, gbatch)

    def state(step):
        return {"step": step, "total_steps": total, "model": model.state_dict(), "ema": ema.state_dict(),
                "opt": opt.state_dict(), "cfg": cfg, "dit_cfg": P.dit_cfg(cfg), "args": vars(args)}

    step = start
    while step < total:
        total = prog.fit(step, total)
        g = C.step_generator(args.seed, ctx.rank, step)
        idx = batches.indices(step)
        z = torch.from_numpy(lat[np.sort(idx.numpy())].astype(np.float32)).to(dev)
        if vae_mode:  # a posterior sample
            z = z[..., :Cc] + z[..., Cc:] * torch.randn(z[..., Cc:].shape, generator=g).to(dev)
        z = (z - mean) / std
        y = ytr[np.sort(idx.numpy())].clone()
        B = len(y)
        y[torch.rand(B, generator=g) < d["class_dropout_prob"]] = ncls
        u = torch.rand(B, generator=g)
        t = torch.tensor([shift_time(float(b), d["shift"]) for b in u], dtype=torch.float32)
        eps = torch.randn(z.shape, generator=g).to(dev)
        t, y = t.to(dev), y.to(dev)
        te = t.view(B, 1, 1)
        zt = (1 - te) * eps + te * z
        target = z - eps
        for pg in opt.param_groups:
            pg["lr"] = lr = C.cosine(step, total, lr_peak, lr_peak * 0.1, d["warmup"])
        with ctx.autocast():
            out = net(zt, t, y)
        loss = F.mse_loss(out[..., :Cc].float(), target)
        if not torch.isfinite(loss):
            raise SystemExit(f"non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), d["clip"])
        opt.step()
        C.ema_update(ema, model, min(d["ema"], (1 + step) / (10 + step)))
        step += 1
        prog.update(step, loss=loss.item(), gnorm=float(gn), lr=lr)
        every = args.snapshot_every or (max(1, total // args.snapshots) if args.snapshots > 0 else 0)
        if every > 0 and ctx.main and (step % every == 0 or step == total):
            save_snapshot(ctx, ema, step)
        if C.after_step(ctx, prog, step, total, state):
            break

    if step >= total and ctx.main:
        per = max(1, 64 // ncls)
        gs = torch.Generator().manual_seed(1234)
        yv = torch.arange(ncls).repeat_interleave(per).to(dev)
        noise = torch.randn(len(yv), lat.shape[1], Cc, generator=gs).to(dev)
        t0 = time.time()
        with ctx.autocast():
            zs = M.sample_euler(ema, noise, yv, ncls, d["sample_steps"], d["cfg"], d["sample_shift"])
            img = decode(M.tokens_to_map(zs.float() * std + mean)).float()
        path = os.path.join(ctx.run_dir, "samples.png")
        M.save_grid(path, img, nrow=per)
        ctx.log(f"wrote {path} ({len(yv)} samples, {d['sample_steps']} Euler steps, cfg {d['cfg']}, "
                f"{time.time() - t0:.0f}s; one row per class)")
    ctx.barrier()
    ctx.close()


if __name__ == "__main__":
    main()
