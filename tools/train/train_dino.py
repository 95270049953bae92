#!/usr/bin/python3
"""Phase 1: self-supervised DINOv3-architecture ViT (RoPE, register/storage tokens, SwiGLU, LayerScale, masked K
bias) trained DINO + iBOT style: student/teacher self-distillation over multi-crop views (2 global + n local),
EMA teacher, Sinkhorn-Knopp teacher targets (or DINO's centering) + sharpening (teacher temperature warm-up), DINO head (MLP -> weight-normed prototypes) on
the class token and an iBOT head on masked patch tokens (the official `mask_token`; SVG uses the patch tokens
as its latent, so they are trained directly). The teacher backbone is what later phases freeze and export.

  /usr/bin/python3 tools/train/train_dino.py --preset digits            # resumes runs/digits/dino/ckpt.pt
  torchrun --nproc_per_node=N tools/train/train_dino.py --preset emoji   # DDP (gloo on CPU, nccl on CUDA)
"""
import json
import math
import os
import time

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import common as C
import models as M
import presets as P


def make_masks(n_img, n_tok, d, g):
    """iBOT masks [n_img, n_tok] bool: each image is masked with probability mask_prob, then a random fraction
    in mask_ratio of its patches. At least one token is masked in the batch."""
    on = torch.rand(n_img, generator=g) < d["mask_prob"]
    ratio = torch.empty(n_img).uniform_(d["mask_ratio"][0], d["mask_ratio"][1], generator=g)
    k = (ratio * n_tok).round().long() * on.long()
    rank = torch.rand(n_img, n_tok, generator=g).argsort(dim=1).argsort(dim=1)
    masks = rank < k[:, None]
    if not masks.any():
        masks[0, 0] = True
    return masks


@torch.no_grad()
def knn_eval(ctx, vit, data, k=20, n_train=5000, n_test=1000):
    """Weighted cosine kNN (DINO protocol, T=0.07) on the mean patch token and on the class token of the frozen
    backbone: a cheap training-time signal of how semantic the features are (held-out split)."""
    def feats(x):
        out_p, out_c = [], []
        for i in range(0, len(x), 256):
            xb = C.imagenet_norm(C.to_float_rgb(x[i:i + 256], ctx.device))
            with ctx.autocast():
                hn, _ = M.dino_tokens(vit, xb)
            out_c.append(F.normalize(hn[:, 0].float(), dim=-1))
            out_p.append(F.normalize(hn[:, 1 + vit.n_storage_tokens:].float().mean(1), dim=-1))
        return torch.cat(out_p), torch.cat(out_c)

    xtr, ytr = data["train"]
    xte, yte = data["test"]
    gen = torch.Generator().manual_seed(0)
    itr = torch.randperm(len(xtr), generator=gen)[:n_train]
    ite = torch.randperm(len(xte), generator=gen)[:n_test]
    ftr, fte = feats(xtr[itr]), feats(xte[ite])
    ytr, yte = ytr[itr].to(ctx.device), yte[ite].to(ctx.device)
    nc = int(max(ytr.max(), yte.max())) + 1
    res = {}
    for name, a, b in (("patch_mean", ftr[0], fte[0]), ("cls", ftr[1], fte[1])):
        sim = b @ a.T
        w, j = sim.topk(k, dim=1)
        votes = torch.zeros(len(b), nc, device=ctx.device).scatter_add_(1, ytr[j], (w / 0.07).exp())
        res[f"knn_{name}"] = float((votes.argmax(1) == yte).float().mean())
    return res


@torch.no_grad()
def sinkhorn(ctx, logits, tt, iters=3):
    """Sinkhorn-Knopp teacher targets (DINOv2/v3): rows of softmax(logits/tt) rebalanced so every prototype gets an
    equal share of the (global) batch. When the teacher's outputs are nearly identical across images (a fresh
    network on small grey data) the targets are still nearly uniform: a low early teacher temperature is what
    separates them (tools/train/README.md, "Semantic encoder"). In float64: at a teacher temperature of 0.01 a
    prototype whose logits all lie more than 1.03 below the batch maximum (logits are cosines, in [-1, 1]) would
    underflow float32 (exp(-103)) to an all-zero row, and the row normalisation would divide by zero."""
    q = torch.exp((logits.double() - logits.max()) / tt).t()  # K x B
    n = torch.tensor(float(q.shape[1] * ctx.world), device=q.device)
    k = q.shape[0]
    q /= ctx.all_mean(q.sum()) * ctx.world
    for _ in range(iters):
        q /= ctx.all_mean(q.sum(1, keepdim=True)) * ctx.world
        q /= k
        q /= q.sum(0, keepdim=True)
        q /= n
    return (q * n).t().float()


def main():
    ap = C.base_parser(__doc__)
    args = ap.parse_args()
    ctx = C.Ctx(args, "dino")
    cfg, d = ctx.cfg, ctx.cfg["dino"]
    total = args.steps or d["steps"]
    gbatch = args.batch or d["batch"]
    bs = C.per_rank_batch(ctx, gbatch)
    dev = ctx.device

    xtr, ytr = C.train_split(args, cfg)
    probe = {"train": (xtr, ytr), "test": C.load_split(args.data, cfg["data"]["name"], "test")}
    batches = C.Batches(len(xtr), bs, ctx, args.seed)

    student = M.DinoNet(cfg)
    teacher = M.new_teacher(student, cfg)
    K = d["head_out"]
    center = torch.zeros(1, K)
    center_p = torch.zeros(1, K)
    lr_peak = d["lr"] * gbatch / 256
    opt = torch.optim.AdamW(C.param_groups(student, d["wd"][0]), lr=lr_peak, betas=(0.9, 0.999))
    start, ck = C.resume(ctx, opt, student=student, teacher=teacher)
    if ck is not None:
        center, center_p = ck["center"], ck["center_p"]
    student.to(dev)
    teacher.to(dev)
    center, center_p = center.to(dev), center_p.to(dev)
    net = DDP(student) if ctx.distributed else student
    ctx.log(f"backbone {M.n_params(student.backbone) / 1e6:.2f}M params, heads "
            f"{(M.n_params(student) - M.n_params(student.backbone)) / 1e6:.2f}M; {total} steps, global batch "
            f"{gbatch} ({ctx.world} x {bs}), {2 + d['n_local']} crops, device {dev}, "
            f"bf16 {not args.no_bf16 and d['bf16']}, threads {torch.get_num_threads()}")
    if ctx.main:
        C.write_json(os.path.join(ctx.run_dir, "config.json"), {"cfg": cfg, "args": vars(args)})

    n_tok = (d["global_size"] // d["patch_size"]) ** 2
    nl = d["n_local"]
    pairs = 2 * (2 + nl) - 2
    prog = C.Progress(ctx, start, total, gbatch)
    flip, color = cfg["data"]["flip"], cfg["data"]["color"]

    def state(step):
        return {"step": step, "total_steps": total, "student": student.state_dict(),
                "teacher": teacher.state_dict(), "teacher_backbone": teacher.backbone.state_dict(),
                "center": center.cpu(), "center_p": center_p.cpu(), "opt": opt.state_dict(), "cfg": cfg,
                "dino_cfg": P.dino_cfg(cfg), "args": vars(args)}

    step = start
    while step < total:
        total = prog.fit(step, total)
        g = C.step_generator(args.seed, ctx.rank, step)
        x = C.to_float_rgb(xtr[batches.indices(step)], dev)
        rot, sw = d.get("rotate", 0.0), d.get("stroke", 0.0)
        glob = torch.cat([C.random_resized_crop(C.stroke_jitter(x, g, sw), d["global_size"], d["global_scale"], g,
                                                flip=flip, rotate=rot) for _ in range(2)])
        glob = C.imagenet_norm(C.color_jitter(glob, g, color=color))
        loc = torch.cat([C.random_resized_crop(C.stroke_jitter(x, g, sw), d["local_size"], d["local_scale"], g,
                                               flip=flip, rotate=rot) for _ in range(nl)]) if nl else None
        if loc is not None:
            loc = C.imagenet_norm(C.color_jitter(loc, g, color=color))
        masks = make_masks(2 * bs, n_tok, d, g).to(dev) if d["ibot_weight"] > 0 else None

        lr = C.cosine(step, total, lr_peak, lr_peak * 0.01, d["warmup"])
        wd = C.cosine(step, total, d["wd"][0], d["wd"][1])
        mom = C.cosine(step, total, d["momentum"][0], d["momentum"][1])
        tt = C.cosine(step, total, d["teacher_temp"][1], d["teacher_temp"][1], int(0.3 * total),
                      d["teacher_temp"][0])
        for i, pg in enumerate(opt.param_groups):
            pg["lr"] = lr
            pg["weight_decay"] = wd if i == 0 else 0.0

        with torch.no_grad(), ctx.autocast():
            t_cls, t_patch, _ = teacher(glob, None, masks, apply_mask=False)
        with ctx.autocast():
            s_cls, s_patch, s_tok = net(glob, loc, masks)
        t_cls = t_cls.float()
        sk = d.get("centering", "center") == "sinkhorn"
        tp = (sinkhorn(ctx, t_cls, tt) if sk else F.softmax((t_cls - center) / tt, dim=-1)).chunk(2)
        sl = F.log_softmax(s_cls.float() / d["student_temp"], dim=-1).chunk(2 + nl)
        loss_dino = sum(-(tp[iq] * sl[v]).sum(-1).mean() for iq in range(2) for v in range(2 + nl) if v != iq)
        loss_dino = loss_dino / pairs
        loss = loss_dino
        loss_ibot = torch.zeros(())
        if masks is not None:
            t_patch = t_patch.float()
            tpp = sinkhorn(ctx, t_patch, tt) if sk else F.softmax((t_patch - center_p) / tt, dim=-1)
            loss_ibot = -(tpp * F.log_softmax(s_patch.float() / d["student_temp"], dim=-1)).sum(-1).mean()
            loss = loss + d["ibot_weight"] * loss_ibot
        loss_koleo = torch.zeros(())
        if d["koleo"] > 0:
            loss_koleo = M.koleo(s_tok[:bs])  # first global crop of each image, per rank as in DINOv2
            loss = loss + d["koleo"] * loss_koleo
        if not torch.isfinite(loss):
            raise SystemExit(f"non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if step < d["freeze_last"]:
            for h in (student.dino_head, student.ibot_head):
                h.last_layer.weight_v.grad = None
        gn = torch.nn.utils.clip_grad_norm_(student.parameters(), d["clip"])
        opt.step()
        with torch.no_grad():
            C.ema_update(teacher, student, mom)
            center.mul_(0.9).add_(ctx.all_mean(t_cls.mean(0, keepdim=True)), alpha=0.1)
            if masks is not None:
                center_p.mul_(0.9).add_(ctx.all_mean(t_patch.mean(0, keepdim=True)), alpha=0.1)
            tcat = torch.cat(tp)
            pm = tcat.mean(0)
            # t_ent: entropy of the batch-mean teacher distribution (1 = all prototypes used, ~0 = collapse onto
            # one); t_sharp: mean per-sample entropy (1 = uniform outputs, the other collapse). Healthy: high/low.
            t_ent = float(-(pm * (pm + 1e-12).log()).sum() / math.log(K))
            t_sharp = float(-(tcat * (tcat + 1e-12).log()).sum(-1).mean() / math.log(K))
        step += 1
        prog.update(step, loss=loss.item(), dino=loss_dino.item(), ibot=loss_ibot.item(), t_ent=t_ent,
                    t_sharp=t_sharp, koleo=loss_koleo.item(), gnorm=float(gn), lr=lr)
        def quick_knn():
            if ctx.main and step < total:
                res = knn_eval(ctx, teacher.backbone, probe, n_train=2000, n_test=500)
                ctx.log(f"step {step} kNN (2000/500 held-out): " + " ".join(f"{k} {v:.3f}" for k, v in res.items()))

        if C.after_step(ctx, prog, step, total, state, quick_knn):
            break

    if step >= total and ctx.main:
        data = {s: C.load_split(args.data, cfg["data"]["name"], s) for s in ("train", "test")}
        t0 = time.time()
        res = knn_eval(ctx, teacher.backbone, data)
        res["step"] = step
        ctx.log(f"kNN on held-out ({time.time() - t0:.0f}s): " + json.dumps(res))
        C.write_json(os.path.join(ctx.run_dir, "eval.json"), res)
    ctx.barrier()
    ctx.close()


if __name__ == "__main__":
    main()
