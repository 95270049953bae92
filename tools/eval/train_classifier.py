#!/usr/bin/python3
"""Train the independent judge for `novae eval`: a small CNN classifier on a prepared data set.

It is trained on the data set's TRAIN split only (never on anything the SVG model produced) and scored on the
held-out TEST split. `novae eval` runs it in pure Go (model/eval) to judge generated samples (class accuracy) and
to give a feature space for the Fréchet distance (its penultimate layer).

Architecture (every stage: conv 3x3 pad 1 -> BatchNorm -> ReLU -> max-pool 2x2), then flatten (NCHW order),
Linear -> ReLU (the "features", `hidden` wide) -> Linear (logits). BatchNorm is folded into the convolutions at
export, so the file holds only conv/linear weights (stored F16; accuracy and fixture use the rounded values):

  conv{i}.weight [C_i, C_{i-1}, 3, 3], conv{i}.bias [C_i]     i = 0..len(channels)-1
  fc1.weight [hidden, C_last*s*s], fc1.bias, fc2.weight [classes, hidden], fc2.bias
  fixture.images  U8  [8, H, W] or [8, H, W, 3]   (first 8 test images, as stored in the .npy)
  fixture.features F32 [8, hidden], fixture.logits F32 [8, classes]  (this network, PyTorch, float32)
  metadata: "arch" (JSON: in_channels, size, channels, hidden, classes, input), "test_accuracy", "test_n",
            "dataset", "class_names" (JSON), "training" (JSON settings), "format": "novae-classifier/1"

Input: the uint8 image / 255 in [0,1] (grey for digits, RGB for emoji), NCHW.

Run (repository root; Debian torch):
  nice -n 15 /usr/bin/python3 tools/eval/train_classifier.py --data digits   # -> tools/eval/classifier_digits.safetensors
  nice -n 15 /usr/bin/python3 tools/eval/train_classifier.py --data emoji    # -> tools/eval/classifier_emoji.safetensors
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import st  # noqa: E402  (minimal safetensors writer)

PRESETS = {
    # digits: 60k MNIST train, a few epochs reach >= 99.3% on MNIST test.
    "digits": dict(channels=[32, 64, 128], hidden=128, epochs=6, batch=128, lr=2e-3, wd=5e-4, shift=2,
                   rot=10.0, scale=0.1, flip=False, dropout=0.3),
    # emoji: 2.9k train images, 16 classes; narrower first stages (64x64 input) and many epochs.
    "emoji": dict(channels=[16, 32, 64, 128], hidden=128, epochs=60, batch=64, lr=2e-3, wd=5e-4, shift=4,
                  rot=10.0, scale=0.1, flip=True, dropout=0.3),
}


class Net(nn.Module):
    def __init__(self, in_ch, channels, hidden, classes, size, dropout):
        super().__init__()
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        c = in_ch
        for co in channels:
            self.convs.append(nn.Conv2d(c, co, 3, padding=1))
            self.bns.append(nn.BatchNorm2d(co))
            c = co
        s = size >> len(channels)
        self.fc1 = nn.Linear(c * s * s, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x, folded=False):
        for conv, bn in zip(self.convs, self.bns):
            x = conv(x) if folded else bn(conv(x))
            x = F.max_pool2d(F.relu(x), 2)
        f = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.drop(f)), f


def fold(net):
    """BatchNorm (eval statistics) folded into each conv: returns {name: tensor} of the exported weights."""
    out = {}
    for i, (conv, bn) in enumerate(zip(net.convs, net.bns)):
        g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        out[f"conv{i}.weight"] = (conv.weight * g.view(-1, 1, 1, 1)).detach().float().contiguous()
        out[f"conv{i}.bias"] = ((conv.bias - bn.running_mean) * g + bn.bias).detach().float().contiguous()
    for k in ("fc1", "fc2"):
        m = getattr(net, k)
        out[f"{k}.weight"] = m.weight.detach().float().contiguous()
        out[f"{k}.bias"] = m.bias.detach().float().contiguous()
    return out


def folded_forward(w, x, n_conv):
    for i in range(n_conv):
        x = F.max_pool2d(F.relu(F.conv2d(x, w[f"conv{i}.weight"], w[f"conv{i}.bias"], padding=1)), 2)
    f = F.relu(F.linear(x.flatten(1), w["fc1.weight"], w["fc1.bias"]))
    return F.linear(f, w["fc2.weight"], w["fc2.bias"]), f


def to_input(xb):
    """uint8 [B,H,W] or [B,H,W,3] -> float [B,C,H,W] in [0,1]."""
    x = torch.from_numpy(np.ascontiguousarray(xb)).float() / 255.0
    return x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def augment(x, p, g):
    """Random affine (shift in pixels, rotation in degrees, isotropic scale) and optional h-flip."""
    B, _, H, W = x.shape
    ang = (torch.rand(B, generator=g) * 2 - 1) * math.radians(p["rot"])
    sc = 1 + (torch.rand(B, generator=g) * 2 - 1) * p["scale"]
    tx = (torch.rand(B, generator=g) * 2 - 1) * p["shift"] * 2 / W
    ty = (torch.rand(B, generator=g) * 2 - 1) * p["shift"] * 2 / H
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    if p["flip"]:
        flip = (torch.rand(B, generator=g) < 0.5).float() * -2 + 1
        theta[:, 0, 0] *= flip
        theta[:, 1, 0] *= flip
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    # background: 0 for digits (black), 1 for emoji (white): sample x - bg with zero padding, add bg back
    bg = p["bg"]
    return F.grid_sample(x - bg, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + bg


@torch.no_grad()
def accuracy(forward, x, y, bs=1000):
    correct = 0
    for i in range(0, len(x), bs):
        logits, _ = forward(to_input(x[i:i + bs]))
        correct += (logits.argmax(1) == torch.from_numpy(y[i:i + bs])).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="digits", choices=sorted(PRESETS))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data"))
    ap.add_argument("--out", default=None, help="default tools/eval/classifier_<data>.safetensors")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first N train images (smoke tests)")
    ap.add_argument("--min-acc", type=float, default=None, help="fail below this test accuracy (digits: 0.99)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    p = dict(PRESETS[args.data])
    if args.epochs:
        p["epochs"] = args.epochs
    d = os.path.join(args.data_dir, args.data)
    xtr, ytr = np.load(os.path.join(d, "train_x.npy")), np.load(os.path.join(d, "train_y.npy"))
    xte, yte = np.load(os.path.join(d, "test_x.npy")), np.load(os.path.join(d, "test_y.npy"))
    meta = json.load(open(os.path.join(d, "meta.json")))
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    classes = len(meta["classes"])
    size = xtr.shape[1]
    in_ch = 1 if xtr.ndim == 3 else 3
    p["bg"] = 0.0 if in_ch == 1 else 1.0
    net = Net(in_ch, p["channels"], p["hidden"], classes, size, p["dropout"])
    opt = torch.optim.AdamW(net.parameters(), lr=p["lr"], weight_decay=p["wd"])
    steps_per_epoch = len(xtr) // p["batch"]
    total = steps_per_epoch * p["epochs"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=p["lr"], total_steps=total, pct_start=0.15)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    step = 0
    for ep in range(p["epochs"]):
        net.train()
        perm = torch.randperm(len(xtr), generator=g).numpy()
        run_loss, run_n = 0.0, 0
        for i in range(steps_per_epoch):
            idx = np.sort(perm[i * p["batch"]:(i + 1) * p["batch"]])
            x = augment(to_input(xtr[idx]), p, g)
            y = torch.from_numpy(ytr[idx])
            logits, _ = net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            run_loss, run_n = run_loss + loss.item(), run_n + 1
            if step % 100 == 0:
                el = time.time() - t0
                print(f"[clf] ep {ep} step {step}/{total} loss {run_loss / run_n:.4f} {el:.0f}s "
                      f"eta {el / step * (total - step):.0f}s", flush=True)
                run_loss, run_n = 0.0, 0
        net.eval()
        print(f"[clf] epoch {ep}: test accuracy {accuracy(net, xte, yte):.4f} ({time.time() - t0:.0f}s)", flush=True)

    net.eval()
    # stored as float16 (half the file); every number below is computed with the rounded weights
    w = {k: v.half().float() for k, v in fold(net).items()}
    fwd = lambda x: folded_forward(w, x, len(p["channels"]))  # noqa: E731
    acc_bn = accuracy(net, xte, yte)
    acc = accuracy(fwd, xte, yte)
    with torch.no_grad():
        l0, _ = net(to_input(xte[:64]))
        l1, _ = fwd(to_input(xte[:64]))
    dfold = float((l0 - l1).abs().max())
    print(f"[clf] test accuracy {acc:.4f} (folded; unfolded {acc_bn:.4f}, max|dlogit| {dfold:.2e}), "
          f"{time.time() - t0:.0f}s")
    if dfold > 0.05:
        sys.exit("BatchNorm folding changed the logits")
    with torch.no_grad():
        fl, ff = fwd(to_input(xte[:8]))
    tensors = {k: v.half() for k, v in w.items()}
    tensors["fixture.images"] = np.ascontiguousarray(xte[:8])
    tensors["fixture.features"] = ff.float().contiguous()
    tensors["fixture.logits"] = fl.float().contiguous()
    arch = {"in_channels": in_ch, "size": size, "channels": p["channels"], "hidden": p["hidden"],
            "classes": classes, "input": "uint8/255 in [0,1], NCHW; grey for 1 channel"}
    training = {k: v for k, v in p.items()}
    training.update(seed=args.seed, train_n=len(xtr), torch=torch.__version__,
                    minutes=round((time.time() - t0) / 60, 1), label_smoothing=0.05, optimizer="AdamW+OneCycle")
    metadata = {"format": "novae-classifier/1", "arch": json.dumps(arch), "test_accuracy": f"{acc:.4f}",
                "test_n": str(len(xte)), "dataset": f"data/{args.data} ({meta.get('source', meta.get('version', ''))})",
                "class_names": json.dumps(meta["classes"]), "training": json.dumps(training)}
    out = args.out or os.path.join(ROOT, "tools", "eval", f"classifier_{args.data}.safetensors")
    st.save(out, tensors, metadata)
    print(f"[clf] wrote {out} ({os.path.getsize(out) / 1024:.0f} KiB)")
    if args.min_acc is not None and acc < args.min_acc:
        sys.exit(f"test accuracy {acc:.4f} below --min-acc {args.min_acc}")


if __name__ == "__main__":
    main()
