#!/usr/bin/python3
"""Phase 2: SVG autoencoder on top of the frozen phase-1 DINO: residual ViT (torchvision layout) + LDM conv
decoder, with SVG's distribution alignment (match_distribution on batch statistics) and the official
training-time residual masking (`mask_token`, per sample, mask_ratio). Loss: L1 on pixels + a perceptual term =
MSE between per-token layer-normed features of the frozen DINO at 3 depths, reconstruction vs. input (no
pretrained LPIPS/VGG exists here). No adversarial term.

  /usr/bin/python3 tools/train/train_ae.py --preset digits     # needs runs/digits/dino/ckpt.pt; resumes
  torchrun --nproc_per_node=N tools/train/train_ae.py --preset emoji
"""
import os

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import common as C
import models as M


def feat_layers(depth):
    return sorted({max(0, depth // 3 - 1), max(0, 2 * depth // 3 - 1), depth - 1})


def perceptual(feats_r, feats_t, layers):
    return sum(F.mse_loss(F.layer_norm(feats_r[i].float(), feats_r[i].shape[-1:]),
                          F.layer_norm(feats_t[i].float(), feats_t[i].shape[-1:])) for i in layers) / len(layers)


@torch.no_grad()
def evaluate(ctx, vit, ae, x_test, n=1000, bs=64):
    """Held-out PSNR (on [0,1] images) with the alignment statistics of each batch of `bs` images, as in
    training; plus the PSNR from DINO alone (residual replaced by mask_token) to show what the residual adds."""
    ae.eval()
    P = 1 + vit.n_storage_tokens
    se, se_dino, cnt = 0.0, 0.0, 0
    first = None
    for i in range(0, min(n, len(x_test)), bs):
        x = C.to_float_rgb(x_test[i:i + bs], ctx.device)
        xn = C.imagenet_norm(x)
        with ctx.autocast():
            patch = M.dino_tokens(vit, xn)[0][:, P:]
            r = ae(xn, patch).float().clamp(-1, 1)
            z = ae.encode(xn, patch)
            D = patch.shape[-1]
            z[:, D:] = M.match_distribution(patch.transpose(1, 2).float(), ae.mask_token.expand(
                len(x), -1, patch.shape[1]).float()).view_as(z[:, D:])
            rd = ae.decoder(z).float().clamp(-1, 1)
        se += ((r + 1) / 2 - x).pow(2).mean((1, 2, 3)).clamp_min(1e-10).log10().mul(-10).sum().item()
        se_dino += ((rd + 1) / 2 - x).pow(2).mean((1, 2, 3)).clamp_min(1e-10).log10().mul(-10).sum().item()
        cnt += len(x)
        if first is None:
            first = (x[:16] * 2 - 1, r[:16])
    ae.train()
    res = {"psnr": se / cnt, "psnr_dino_only": se_dino / cnt, "n": cnt}
    res.update(corner_check(ctx, vit, ae, x_test[:min(n, len(x_test))], bs))
    return res, first


@torch.no_grad()
def corner_check(ctx, vit, ae, x_test, bs=64):
    """Corner artefacts of the decoder. The first shipped emoji decoder painted a small multicoloured speck into the
    top-left corner of every image: a corner artefact of its zero-padded convolutions learnt in its weights (not in
    the data, whose corners are white and left-right flipped in training; not in the DiT, the positional embeddings,
    the attention layers or the int8 storage; more training from those weights did not remove it). It shows as
    (a) a larger reconstruction error in one corner than in the others and (b) colour in that corner when the
    decoder is given a spatially uniform latent (the mean latent, as a blurry few-step sample is). Both are recorded
    so a run that learns it again is seen: corner_err = mean |error| (0-255) in each corner square (side H/4.5) of
    the held-out reconstructions; uniform_colour = max over the square of (max - min over RGB, 0-255), decoding the
    mean latent of these images. That decoder, 320 held-out images: corner_err TL 7.0, TR 3.9, BL 5.7, BR 5.2;
    uniform_colour TL 101, TR 37, BL 57, BR 33, centre 28."""
    ae.eval()
    P = 1 + vit.n_storage_tokens
    err, zsum, cnt = 0.0, 0.0, 0
    for i in range(0, len(x_test), bs):
        x = C.to_float_rgb(x_test[i:i + bs], ctx.device)
        xn = C.imagenet_norm(x)
        with ctx.autocast():
            z = ae.encode(xn, M.dino_tokens(vit, xn)[0][:, P:]).float()
            r = ae.decoder(z).float().clamp(-1, 1)
        err = err + ((r + 1) / 2 - x).abs().mean(1).sum(0) * 255
        zsum = zsum + z.sum((0, 2, 3))
        cnt += len(x)
    err = err / cnt
    H = err.shape[-1]
    k = max(2, round(H / 4.5))
    corners = {"TL": (slice(0, k), slice(0, k)), "TR": (slice(0, k), slice(H - k, H)),
               "BL": (slice(H - k, H), slice(0, k)), "BR": (slice(H - k, H), slice(H - k, H)),
               "centre": (slice(H // 2 - k // 2, H // 2 + k - k // 2),) * 2}
    zu = (zsum / (cnt * z.shape[2] * z.shape[3])).view(1, -1, 1, 1).expand(1, -1, z.shape[2], z.shape[3])
    with ctx.autocast():
        u = ((ae.decoder(zu.contiguous()).float().clamp(-1, 1) + 1) / 2)[0] * 255
    col = u.max(0).values - u.min(0).values
    ae.train()
    return {"corner_err": {c: round(float(err[sl].mean()), 2) for c, sl in corners.items() if c != "centre"},
            "uniform_colour": {c: round(float(col[sl].max()), 1) for c, sl in corners.items()}}


def main():
    ap = C.base_parser(__doc__)
    args = ap.parse_args()
    ctx = C.Ctx(args, "ae")
    cfg, a = ctx.cfg, ctx.cfg["ae"]
    total = args.steps or a["steps"]
    gbatch = args.batch or a["batch"]
    bs = C.per_rank_batch(ctx, gbatch)
    dev = ctx.device

    ck_dino = C.load_phase(args, args.preset, "dino")
    vit = M.load_frozen_dino(ck_dino, cfg, dev)
    P = 1 + vit.n_storage_tokens
    layers = feat_layers(len(vit.blocks))
    xtr, _ = C.train_split(args, cfg)
    batches = C.Batches(len(xtr), bs, ctx, args.seed)

    ae = M.AENet(cfg)
    lr_peak = a["lr"] * gbatch / 64
    opt = torch.optim.AdamW(ae.parameters(), lr=lr_peak, betas=(0.9, 0.99), weight_decay=0.0)
    start, _ = C.resume(ctx, opt, model=ae)
    ae.to(dev)
    net = DDP(ae) if ctx.distributed else ae
    ctx.log(f"residual ViT {M.n_params(ae.extra_vit) / 1e6:.2f}M, decoder {M.n_params(ae.decoder) / 1e6:.2f}M "
            f"params; frozen DINO {M.n_params(vit) / 1e6:.2f}M; {total} steps, global batch {gbatch} "
            f"({ctx.world} x {bs}), perceptual layers {layers}, device {dev}, threads {torch.get_num_threads()}")
    if ctx.main:
        C.write_json(os.path.join(ctx.run_dir, "config.json"), {"cfg": cfg, "args": vars(args)})
    prog = C.Progress(ctx, start, total, gbatch)

    def state(step):
        return {"step": step, "total_steps": total, "model": ae.state_dict(), "opt": opt.state_dict(), "cfg": cfg,
                "args": vars(args)}

    step = start
    while step < total:
        total = prog.fit(step, total)
        g = C.step_generator(args.seed, ctx.rank, step)
        x = C.to_float_rgb(xtr[batches.indices(step)], dev)
        if cfg["data"]["flip"]:
            f = (torch.rand(len(x), generator=g) < 0.5).to(dev).view(-1, 1, 1, 1)
            x = torch.where(f, x.flip(3), x)
        xn = C.imagenet_norm(x)
        for pg in opt.param_groups:
            pg["lr"] = lr = C.cosine(step, total, lr_peak, lr_peak * 0.05, a["warmup"])
        with torch.no_grad(), ctx.autocast():
            hn, feats_t = M.dino_tokens(vit, xn)
        with ctx.autocast():
            recon = net(xn, hn[:, P:], g).float()
            l1 = (recon - (x * 2 - 1)).abs().mean()
            loss = l1
            lp = torch.zeros(())
            if a["perc_weight"] > 0:
                _, feats_r = M.dino_tokens(vit, C.imagenet_norm((recon + 1) / 2))
                lp = perceptual(feats_r, feats_t, layers)
                loss = l1 + a["perc_weight"] * lp
        if not torch.isfinite(loss):
            raise SystemExit(f"non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(ae.parameters(), a["clip"])
        opt.step()
        step += 1
        psnr = C.batch_psnr(recon.detach(), x)
        prog.update(step, loss=loss.item(), l1=l1.item(), perc=lp.item(), psnr=psnr, gnorm=float(gn), lr=lr)
        if C.after_step(ctx, prog, step, total, state):
            break

    if step >= total and ctx.main:
        xte, _ = C.load_split(args.data, cfg["data"]["name"], "test")
        res, (orig, rec) = evaluate(ctx, vit, ae, xte)
        C.write_recon_eval(ctx, res, step, orig, rec)
    ctx.barrier()
    ctx.close()


if __name__ == "__main__":
    main()
