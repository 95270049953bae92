"""Shared training plumbing for the three SVG phases: device + (torchrun) DDP setup, seeding, data loading with a
resumable DistributedSampler order, batched GPU/CPU augmentations, LR schedules, checkpoint/resume, CSV + stdout
progress with ETA, time budget.

Conventions: B batch, T tokens, C channels, H x W spatial. Images are float in [0,1] until `imagenet_norm`.
Every random draw of step `s` on rank `r` comes from `step_generator(seed, r, s)`, so a resumed run replays
exactly the batches and augmentations an uninterrupted run would have seen.
"""
import argparse
import contextlib
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data.distributed import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)

from presets import get_preset  # noqa: E402
from models import save_grid  # noqa: E402

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------------------------------
# CLI shared by every phase
# ------------------------------------------------------------------------------------------------------------------

def base_parser(desc):
    ap = argparse.ArgumentParser(description=desc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", required=True, choices=["digits", "emoji"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a preset value, dotted key, JSON value (e.g. dit.steps=2000)")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"), help="prepared data dir (tools/data/prepare.py)")
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs"), help="run dir root: <runs>/<preset>/<phase>/")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, help="total optimiser steps (overrides the preset)")
    ap.add_argument("--batch", type=int, help="GLOBAL batch size (overrides the preset; split over ranks)")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this wall time")
    ap.add_argument("--fit-minutes", type=float, default=0,
                    help="choose the step count (at most --steps or the preset's) so the phase ends after about this "
                         "wall time, measured over the session's first 40 steps; the schedules follow the new count")
    ap.add_argument("--ckpt-every", type=int, default=500, help="checkpoint every N steps")
    ap.add_argument("--ckpt-minutes", type=float, default=10, help="... and at least every M minutes")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: cores / local ranks)")
    ap.add_argument("--no-bf16", action="store_true", help="disable bf16 autocast")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images (smoke tests)")
    return ap


def train_split(args, cfg):
    x, y = load_split(args.data, cfg["data"]["name"], "train")
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    return x, y


def cpu_has_bf16():
    """bf16 autocast on a CPU pays only with native bf16 instructions: on an AVX2-only EPYC (Debian torch 1.13) a
    digits DiT step took 26.3 s under bf16 against 1.0 s in fp32, and encoding ran 22× slower (bench.py --fp32)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Ctx:
    """Process context: rank, world, device, autocast, run dir, config."""

    def __init__(self, args, phase):
        self.args = args
        self.phase = phase
        self.cfg = get_preset(args.preset, args.set)
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
        if use_cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        else:
            self.device = torch.device("cpu")
            torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // local_world))
        if self.distributed:
            dist.init_process_group("nccl" if use_cuda else "gloo")
        self.main = self.rank == 0
        self.run_dir = os.path.join(args.runs, args.preset, phase)
        if self.main:
            os.makedirs(self.run_dir, exist_ok=True)
        torch.manual_seed(args.seed)
        np.random.seed(args.seed)

    # -- autocast ---------------------------------------------------------------------------------------------------
    def autocast(self, enabled=True):
        on = (enabled and not self.args.no_bf16 and self.cfg[self.phase_key].get("bf16", True)
              and (self.device.type != "cpu" or cpu_has_bf16()))
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=on)

    @property
    def phase_key(self):
        return {"dino": "dino", "ae": "ae", "dit": "dit", "vae": "ae"}[self.phase]

    def log(self, *a):
        if self.main:
            print(f"[{self.phase}]", *a, flush=True)

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def all_mean(self, t):
        if self.distributed:
            t = t.clone()
            dist.all_reduce(t)
            t /= self.world
        return t

    def any_flag(self, *flags):
        """Rank 0's decisions (stop, checkpoint) broadcast to every rank."""
        t = torch.tensor([float(f) for f in flags], device=self.device)
        if self.distributed:
            dist.broadcast(t, 0)
        return [bool(v) for v in t.tolist()]

    def close(self):
        if self.distributed:
            dist.destroy_process_group()


def step_generator(seed, rank, step, device="cpu"):
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + rank * 7919 + step * 104_729) % (2 ** 63 - 1))
    return g


# ------------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------------

def load_split(data_dir, name, split):
    """uint8 images [N,C,H,W] (C = 1 for digits, 3 for emoji) and int64 labels [N]."""
    d = os.path.join(data_dir, name)
    p = os.path.join(d, f"{split}_x.npy")
    if not os.path.exists(p):
        raise SystemExit(f"missing {p}: run  /usr/bin/python3 tools/data/prepare.py")
    x = torch.from_numpy(np.load(p))
    x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)
    y = torch.from_numpy(np.load(os.path.join(d, f"{split}_y.npy")))
    return x.contiguous(), y


def to_float_rgb(xb, device):
    """uint8 [B,C,H,W] -> float [B,3,H,W] in [0,1] (grey replicated)."""
    x = xb.to(device, non_blocking=True).float() / 255.0
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def imagenet_norm(x):
    m = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


class Batches:
    """Per-rank index batches in DistributedSampler order (drop_last), addressable by global step, so that
    resuming at step s yields exactly the batches an uninterrupted run would have used."""

    def __init__(self, n, batch_per_rank, ctx, seed):
        self.sampler = DistributedSampler(range(n), num_replicas=ctx.world, rank=ctx.rank, shuffle=True,
                                          seed=seed, drop_last=True)
        self.bs = batch_per_rank
        self.per_epoch = len(self.sampler) // batch_per_rank
        assert self.per_epoch > 0, "batch larger than the data set"
        self._epoch, self._order = None, None

    def indices(self, step):
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._order = torch.tensor(list(iter(self.sampler)))
            self._epoch = epoch
        return self._order[i * self.bs:(i + 1) * self.bs]


def per_rank_batch(ctx, global_batch):
    if global_batch % ctx.world:
        raise SystemExit(f"batch {global_batch} is not divisible by world size {ctx.world}")
    return global_batch // ctx.world


# ------------------------------------------------------------------------------------------------------------------
# Batched augmentations (one affine grid_sample per crop set, no per-image Python loop)
# ------------------------------------------------------------------------------------------------------------------

def random_resized_crop(x, out, scale, g, ratio=(3 / 4, 4 / 3), flip=False, rotate=0.0):
    """x [B,3,H,W] -> [B,3,out,out]: per-image random area fraction in `scale`, aspect in `ratio`, position,
    optional horizontal flip and optional rotation by up to ±`rotate` degrees (drawn last, so rotate=0 keeps the
    random stream of the crops without it), all in one affine_grid + bilinear grid_sample."""
    B = x.shape[0]
    dev = x.device
    area = torch.empty(B).uniform_(scale[0], scale[1], generator=g)
    logr = torch.empty(B).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=g)
    r = torch.exp(logr)
    w = torch.sqrt(area * r).clamp(max=1.0)
    h = torch.sqrt(area / r).clamp(max=1.0)
    cx = (torch.rand(B, generator=g) * 2 - 1) * (1 - w)
    cy = (torch.rand(B, generator=g) * 2 - 1) * (1 - h)
    sx = w
    if flip:
        sx = torch.where(torch.rand(B, generator=g) < 0.5, -w, w)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, h, cy
    if rotate > 0:
        a = torch.empty(B).uniform_(-rotate, rotate, generator=g) * (math.pi / 180)
        cos, sin = torch.cos(a), torch.sin(a)
        theta[:, 0, 0], theta[:, 0, 1] = sx * cos, -h * sin
        theta[:, 1, 0], theta[:, 1, 1] = sx * sin, h * cos
    grid = F.affine_grid(theta.to(dev), (B, 3, out, out), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def stroke_jitter(x, g, p):
    """Stroke-width augmentation for line art on a dark background (digits): per image, with probability p/2 a
    3x3 dilation (thicker strokes), with p/2 a 3x3 erosion (thinner), else unchanged. x [B,C,H,W] in [0,1]."""
    if p <= 0:
        return x
    u = torch.rand(x.shape[0], 1, 1, 1, generator=g).to(x.device)
    dil = F.max_pool2d(x, 3, 1, 1)
    ero = -F.max_pool2d(-x, 3, 1, 1)
    return torch.where(u < p / 2, dil, torch.where(u < p, ero, x))


def color_jitter(x, g, p=0.8, b=0.4, c=0.4, s=0.2, grey_p=0.2, color=True):
    """Brightness/contrast/saturation jitter with probability p, random greyscale (colour data only)."""
    B = x.shape[0]
    dev = x.device

    def u(lo, hi):
        return torch.empty(B, 1, 1, 1).uniform_(lo, hi, generator=g).to(dev)

    on = (torch.rand(B, 1, 1, 1, generator=g) < p).float().to(dev)
    grey_w = torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)
    y = x * u(1 - b, 1 + b)
    m = (y * grey_w).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    y = (y - m) * u(1 - c, 1 + c) + m
    if color:
        gy = (y * grey_w).sum(1, keepdim=True)
        y = (y - gy) * u(1 - s, 1 + s) + gy
    y = on * y + (1 - on) * x
    if color:
        gr = (torch.rand(B, 1, 1, 1, generator=g) < grey_p).float().to(dev)
        gy = (y * grey_w).sum(1, keepdim=True).expand_as(y)
        y = gr * gy + (1 - gr) * y
    return y.clamp(0, 1)


# ------------------------------------------------------------------------------------------------------------------
# Schedules
# ------------------------------------------------------------------------------------------------------------------

def cosine(step, total, start, end, warmup=0, warm_from=0.0):
    if step < warmup:
        return warm_from + (start - warm_from) * step / max(1, warmup)
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * p))


def param_groups(model, wd):
    """AdamW groups: no weight decay on biases, norms, LayerScale, tokens and embeddings (1-D or named)."""
    decay, no = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or n.endswith("token") or "tokens" in n or "pos_embed" in n or "gamma" in n:
            no.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no, "weight_decay": 0.0}]


@torch.no_grad()
def ema_update(ema, model, decay):
    mp = dict(model.named_parameters())
    for n, p in ema.named_parameters():
        p.mul_(decay).add_(mp[n].detach(), alpha=1 - decay)
    mb = dict(model.named_buffers())
    for n, b in ema.named_buffers():
        b.copy_(mb[n])


def unwrap(m):
    return m.module if hasattr(m, "module") else m


# ------------------------------------------------------------------------------------------------------------------
# Checkpoint / resume
# ------------------------------------------------------------------------------------------------------------------

def ckpt_path(ctx):
    return os.path.join(ctx.run_dir, "ckpt.pt")


def save_ckpt(ctx, state):
    """Atomic write by rank 0 (tmp + rename); every rank waits for it."""
    if ctx.main:
        p = ckpt_path(ctx)
        torch.save(state, p + ".tmp")
        os.replace(p + ".tmp", p)
    ctx.barrier()


def load_ckpt(ctx):
    p = ckpt_path(ctx)
    if ctx.args.fresh or not os.path.exists(p):
        return None
    return torch.load(p, map_location="cpu", weights_only=False)


def resume(ctx, opt, **modules):
    """Loads <run>/ckpt.pt (unless --fresh or absent) into the modules, each from the checkpoint key it is passed
    under, and into the optimiser. Returns (start step, checkpoint or None)."""
    ck = load_ckpt(ctx)
    if ck is None:
        return 0, None
    if "slim" in ck:  # no optimiser state, and only the weights later phases read
        raise SystemExit(f"{ckpt_path(ctx)}: a weights-only checkpoint at step {ck['step']} ({ck['slim']}); it cannot "
                         f"be resumed: train this phase again with --fresh (or move it away)")
    for key, m in modules.items():
        m.load_state_dict(ck[key])
    opt.load_state_dict(ck["opt"])
    ctx.log(f"resumed from step {ck['step']}")
    return ck["step"], ck


def after_step(ctx, prog, step, total, state, before_ckpt=None):
    """The end of every training step: checkpoint when due (before_ckpt() first, e.g. a quick evaluation) and
    True when the time budget is spent, so the loop stops (checkpointed; the same command resumes)."""
    stop, do_ck = prog.decide(step)
    if do_ck:
        if before_ckpt is not None:
            before_ckpt()
        save_ckpt(ctx, state(step))
    if stop:
        ctx.log(f"time budget reached at step {step}/{total}; rerun the same command to resume")
    return stop


def batch_psnr(recon, x):
    """PSNR (dB) of a batch, recon in [-1,1] (clamped here), x in [0,1]."""
    return -10 * math.log10(max(1e-10, ((recon.clamp(-1, 1) + 1) / 2 - x).pow(2).mean().item()))


def write_recon_eval(ctx, res, step, orig, rec):
    """An autoencoder phase's held-out results: eval.json and recon.png (top: input, bottom: reconstruction)."""
    res["step"] = step
    ctx.log("held-out: " + json.dumps(res))
    write_json(os.path.join(ctx.run_dir, "eval.json"), res)
    save_grid(os.path.join(ctx.run_dir, "recon.png"), torch.cat([orig, rec]), nrow=16)
    ctx.log("wrote", os.path.join(ctx.run_dir, "recon.png"), "(top: input, bottom: reconstruction)")


# What later phases, export.py and novae convert read of each finished phase's checkpoint.
SLIM_KEEP = {"dino": "teacher_backbone", "ae": "model", "vae": "model", "dit": "ema", "dit_vae": "ema"}


def holds_tensors(v):
    if torch.is_tensor(v):
        return True
    if isinstance(v, dict):
        return any(holds_tensors(x) for x in v.values())
    return isinstance(v, (list, tuple)) and any(holds_tensors(x) for x in v)


def slim_checkpoint(ck, phase, note):
    """A phase's checkpoint without optimiser state or training-only networks: the weights of SLIM_KEEP[phase] and
    every entry without tensors (configs, step counts). `note` says where it came from; continuing such a phase needs
    --fresh."""
    out = {k: v for k, v in ck.items() if k == SLIM_KEEP[phase] or not holds_tensors(v)}
    out["slim"] = note
    return out


def load_phase(args, preset, phase):
    """The finished checkpoint of an earlier phase (rank-independent)."""
    p = os.path.join(args.runs, preset, phase, "ckpt.pt")
    if not os.path.exists(p):
        raise SystemExit(f"missing {p}: run phase {phase} first")
    ck = torch.load(p, map_location="cpu", weights_only=False)
    if ck["step"] < ck["total_steps"]:
        print(f"WARNING: {phase} checkpoint is at step {ck['step']}/{ck['total_steps']} (unfinished)", flush=True)
    return ck


# ------------------------------------------------------------------------------------------------------------------
# Progress: CSV log + stdout with throughput and ETA; time budget and periodic checkpoints
# ------------------------------------------------------------------------------------------------------------------

def fmt_time(s):
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    def __init__(self, ctx, start_step, total, global_batch, imgs_per_sample=1):
        self.ctx, self.total, self.gb = ctx, total, global_batch
        self.start_step = start_step
        self.t0 = self.t_last = self.t_ckpt = time.time()
        self.step_last = start_step
        self.fitted = False
        self.acc, self.n = {}, 0
        self.csv = None
        if ctx.main:
            p = os.path.join(ctx.run_dir, "log.csv")
            self.new = not os.path.exists(p) or start_step == 0
            self.fh = open(p, "w" if self.new else "a", newline="")

    def update(self, step, **vals):
        for k, v in vals.items():
            self.acc[k] = self.acc.get(k, 0.0) + float(v)
        self.n += 1
        a = self.ctx.args
        if step % a.log_every and step != self.total:
            return
        now = time.time()
        avg = {k: v / max(1, self.n) for k, v in self.acc.items()}
        self.acc, self.n = {}, 0
        ips = (step - self.step_last) * self.gb / max(1e-9, now - self.t_last)
        rate = (step - self.start_step) / max(1e-9, now - self.t0)
        eta = (self.total - step) / max(1e-9, rate)
        self.t_last, self.step_last = now, step
        if not self.ctx.main:
            return
        row = {"step": step, "time_s": round(now - self.t0, 2), "img_per_s": round(ips, 2)}
        row.update({k: round(v, 6) for k, v in avg.items()})
        if self.csv is None:
            self.csv = csv.DictWriter(self.fh, fieldnames=list(row))
            if self.new:
                self.csv.writeheader()
        self.csv.writerow({k: row.get(k) for k in self.csv.fieldnames})
        self.fh.flush()
        losses = " ".join(f"{k} {v:.4g}" for k, v in avg.items())
        print(f"[{self.ctx.phase}] step {step}/{self.total} ({100 * step / self.total:.1f}%) {losses} | "
              f"{ips:.1f} img/s | elapsed {fmt_time(now - self.t0)} ETA {fmt_time(eta)}", flush=True)

    def fit(self, step, total):
        """--fit-minutes: after 40 steps of this session, the total that ends the phase on time (never above the
        given total, never at or below the step reached). Every rank gets the mean of the ranks' choices. The LR
        and other schedules are functions of step/total, so a phase fitted this way still anneals fully."""
        a = self.ctx.args
        if a.fit_minutes <= 0 or self.fitted or step - self.start_step < 40:
            return total
        self.fitted = True
        el = time.time() - self.t0
        rate = (step - self.start_step) / max(1e-9, el)
        want = step + int(rate * max(0.0, a.fit_minutes * 60 - el))
        want = float(max(step + 1, min(total, want)))
        new = int(self.ctx.all_mean(torch.tensor(want, device=self.ctx.device)).item())
        self.ctx.log(f"--fit-minutes {a.fit_minutes:g}: {rate:.2f} steps/s, {new} steps in all (was {total})")
        self.total = new
        return new

    def decide(self, step):
        """(stop, checkpoint) for after `step`, decided on rank 0 and broadcast."""
        a, now = self.ctx.args, time.time()
        stop = a.max_minutes > 0 and now - self.t0 > a.max_minutes * 60
        ck = step % a.ckpt_every == 0 or now - self.t_ckpt > a.ckpt_minutes * 60 or stop or step == self.total
        stop, ck = self.ctx.any_flag(stop, ck)
        if ck:
            self.t_ckpt = now
        return stop, ck


def write_json(path, obj):
    with open(path + ".tmp", "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(path + ".tmp", path)


@contextlib.contextmanager
def no_autocast(device):
    with torch.autocast(device_type=device.type, enabled=False):
        yield
