#!/usr/bin/python3
"""The VAE-latent twin's autoencoder: the KL-regularised convolutional autoencoder of latent diffusion (LDM
AutoencoderKL: Encoder with double_z, quant_conv, diagonal Gaussian posterior, post_quant_conv, Decoder), the
baseline the SVG paper compares against, trained on the same data with the same budget and reconstruction loss as
train_ae.py:

  loss = L1 + perc_weight * perceptual + kl_weight * KL / (3*H*W)

* L1 on pixels in [-1,1] and the perceptual term of train_ae.py (MSE of per-token layer-normed features of the
  frozen phase-1 DINO at 3 depths, reconstruction vs. input; no pretrained LPIPS exists here), both per-pixel means.
* KL = 0.5 * sum(mu^2 + var - 1 - logvar) over the latent, per image, averaged over the batch. LDM's
  LPIPSWithDiscriminator sums its reconstruction term over the pixels and weights the summed KL by kl_weight =
  1e-6 (every LDM / SD KL-autoencoder config); our reconstruction terms are means over the 3*H*W pixel values,
  so the same ratio is kl_weight * KL / (3*H*W). No adversarial term (train_ae.py has none either) and no learnt
  logvar (LDM's starts at 0 and only rescales the reconstruction term).
* The decoder is trained on a posterior SAMPLE (z = mu + sigma * eps); encoding for the DiT uses the mean.
* Sizes: the SVG decoder's ch / ch_mult / num_res_blocks / attn_resolutions for encoder and decoder (LDM shares one
  ddconfig), so the latent is image / 2^(levels-1) on a side: 8x8 tokens like the SVG latent (digits f4, emoji f8),
  with vae.embed_dim channels (presets.py: 16 digits, 32 emoji).
* Budget: the "ae" preset values (batch, steps, lr, warmup, perc_weight, clip, bf16), so `--set ae.steps=N` moves
  both autoencoders; the "vae" preset adds z_channels, embed_dim and kl_weight.

  /usr/bin/python3 tools/train/train_vae.py --preset digits      # needs runs/digits/dino/ckpt.pt; resumes
Writes <runs>/<preset>/vae/{ckpt.pt, log.csv, config.json, eval.json, recon.png}.
"""
import os

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

import common as C
import models as M
import presets as P
import vae_modules as V
from train_ae import feat_layers, perceptual


def build_vae(cfg):
    return M.fp32_norms(V.AutoencoderKL(P.vae_ddconfig(cfg), cfg["vae"]["embed_dim"]))


def kl_term(post, n_pix):
    """Batch mean of the per-image summed KL (in fp32), divided by the pixel values per image (see the docstring)."""
    mu, logvar = post.mean.float(), post.logvar.float()
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum((1, 2, 3))).mean() / n_pix


@torch.no_grad()
def evaluate(ctx, vae, x_test, n=1000, bs=64):
    """Held-out PSNR (images in [0,1]) of decode(posterior mean), the mean KL per image (nats), and the latent's
    per-channel spread."""
    vae.eval()
    se, kl, cnt = 0.0, 0.0, 0
    first = None
    for i in range(0, min(n, len(x_test)), bs):
        x = C.to_float_rgb(x_test[i:i + bs], ctx.device)
        with ctx.autocast():
            post = vae.encode(x * 2 - 1)
            r = vae.decode(post.mode()).float().clamp(-1, 1)
        se += ((r + 1) / 2 - x).pow(2).mean((1, 2, 3)).clamp_min(1e-10).log10().mul(-10).sum().item()
        kl += post.kl().float().sum().item()
        cnt += len(x)
        if first is None:
            first = (x[:16] * 2 - 1, r[:16])
    vae.train()
    return {"psnr": se / cnt, "kl_per_image": kl / cnt, "n": cnt}, first


def main():
    ap = C.base_parser(__doc__)
    args = ap.parse_args()
    ctx = C.Ctx(args, "vae")
    cfg = ctx.cfg
    a = dict(cfg["ae"], **cfg["vae"])  # the ae phase's budget and loss weights, plus the VAE's own values
    total = args.steps or a["steps"]
    gbatch = args.batch or a["batch"]
    bs = C.per_rank_batch(ctx, gbatch)
    dev = ctx.device

    vit = None
    if a["perc_weight"] > 0:
        vit = M.load_frozen_dino(C.load_phase(args, args.preset, "dino"), cfg, dev)
        layers = feat_layers(len(vit.blocks))
    xtr, _ = C.train_split(args, cfg)
    batches = C.Batches(len(xtr), bs, ctx, args.seed)
    n_pix = 3 * cfg["data"]["image_size"] ** 2

    vae = build_vae(cfg)
    lr_peak = a["lr"] * gbatch / 64
    opt = torch.optim.AdamW(vae.parameters(), lr=lr_peak, betas=(0.9, 0.99), weight_decay=0.0)
    start, _ = C.resume(ctx, opt, model=vae)
    vae.to(dev)
    net = DDP(vae) if ctx.distributed else vae
    dd = P.vae_ddconfig(cfg)
    g_lat = cfg["data"]["image_size"] // 2 ** (len(dd["ch_mult"]) - 1)
    ctx.log(f"VAE encoder {M.n_params(vae.encoder) / 1e6:.2f}M, decoder {M.n_params(vae.decoder) / 1e6:.2f}M params; "
            f"latent {g_lat}x{g_lat}x{a['embed_dim']}; kl_weight {a['kl_weight']:g} (per summed pixel); {total} steps, "
            f"global batch {gbatch} ({ctx.world} x {bs}), device {dev}, threads {torch.get_num_threads()}")
    if ctx.main:
        C.write_json(os.path.join(ctx.run_dir, "config.json"), {"cfg": cfg, "args": vars(args), "ddconfig": dd})
    prog = C.Progress(ctx, start, total, gbatch)

    def state(step):
        return {"step": step, "total_steps": total, "model": vae.state_dict(), "opt": opt.state_dict(), "cfg": cfg,
                "ddconfig": dd, "embed_dim": a["embed_dim"], "args": vars(args)}

    step = start
    while step < total:
        total = prog.fit(step, total)
        g = C.step_generator(args.seed, ctx.rank, step)
        x = C.to_float_rgb(xtr[batches.indices(step)], dev)
        if cfg["data"]["flip"]:
            f = (torch.rand(len(x), generator=g) < 0.5).to(dev).view(-1, 1, 1, 1)
            x = torch.where(f, x.flip(3), x)
        for pg in opt.param_groups:
            pg["lr"] = lr = C.cosine(step, total, lr_peak, lr_peak * 0.05, a["warmup"])
        feats_t = None
        if vit is not None:
            with torch.no_grad(), ctx.autocast():
                _, feats_t = M.dino_tokens(vit, C.imagenet_norm(x))
        with ctx.autocast():
            recon, post = net(x * 2 - 1, sample_posterior=True, generator=g)
            recon = recon.float()
            l1 = (recon - (x * 2 - 1)).abs().mean()
            kl = kl_term(post, n_pix)
            lp = torch.zeros(())
            loss = l1 + a["kl_weight"] * kl
            if vit is not None:
                _, feats_r = M.dino_tokens(vit, C.imagenet_norm((recon + 1) / 2))
                lp = perceptual(feats_r, feats_t, layers)
                loss = loss + a["perc_weight"] * lp
        if not torch.isfinite(loss):
            raise SystemExit(f"non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(vae.parameters(), a["clip"])
        opt.step()
        step += 1
        psnr = C.batch_psnr(recon.detach(), x)
        prog.update(step, loss=loss.item(), l1=l1.item(), perc=lp.item(), kl=kl.item() * n_pix, psnr=psnr,
                    gnorm=float(gn), lr=lr)
        if C.after_step(ctx, prog, step, total, state):
            break

    if step >= total and ctx.main:
        xte, _ = C.load_split(args.data, cfg["data"]["name"], "test")
        res, (orig, rec) = evaluate(ctx, vae, xte)
        C.write_recon_eval(ctx, res, step, orig, rec)
    ctx.barrier()
    ctx.close()


if __name__ == "__main__":
    main()
