#!/usr/bin/python3
"""Linear probe and kNN of frozen SVG encoder features, in PyTorch, during training.

Same protocol as the linear probes of `novae eval` (model/eval/probe.go): multinomial logistic regression on
standardised features (train mean/std per dimension), mean cross-entropy + λ/2·|W|² with λ = 1/N_train (bias not
penalised), L-BFGS ≤ 300 iterations (history 10), fitted on N_train random train images and scored on N_test
random held-out images (defaults 3000 / 1000 and the same images as `novae eval -seed 0`: its PCG-DXSM draw,
model/eval/data.go Sample, is reproduced here). Beside it, the DINO kNN protocol: weighted cosine kNN, k = 20,
T = 0.07, with the same train images as the memory bank.

Features, each probed separately:
  dino_cls     the frozen DINO teacher's final-normed class token (D-d)
  dino_patch   its final-normed patch tokens mean-pooled (D-d; what SVG's latent is made of)
  dino_both    the two concatenated (2D-d; DINOv2's linear evaluation features)
  residual     the residual ViT's raw output mean-pooled (8-d; needs --ae)
  pixels       the image in [0,1], area-averaged to ≤ 1024 dimensions (as `novae eval`)

  /usr/bin/python3 tools/eval/probe.py --dino runs/digits/dino/ckpt.pt [--ae runs/digits/ae/ckpt.pt] \
      [--preset digits] [--train-n 3000 --test-n 1000] [--out probe.json]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
import common as C  # noqa: E402
import models as M  # noqa: E402


M64 = (1 << 64) - 1


def go_sample(n, k, seed):
    """model/eval Sample(n, k, seed): k sorted indices of range(n) drawn by a partial Fisher-Yates shuffle with Go's
    math/rand/v2 PCG(seed, "eval") and IntN (Lemire's multiply with rejection), bit for bit."""
    idx = list(range(n))
    if k >= n:
        return idx
    hi, lo = seed & M64, 0x6576616C

    def u64():
        nonlocal hi, lo
        s = (((hi << 64) | lo) * ((2549297995355413924 << 64) | 4865540595714422341)
             + ((6364136223846793005 << 64) | 1442695040888963407)) & ((1 << 128) - 1)
        hi, lo = s >> 64, s & M64
        h = hi ^ (hi >> 32)
        h = (h * 0xDA942042E4DD58B5) & M64
        h ^= h >> 48
        return (h * (lo | 1)) & M64

    def intn(m):
        if m & (m - 1) == 0:
            return u64() & (m - 1)
        x = u64() * m
        if x & M64 < m:
            thresh = (-m) % m
            while x & M64 < thresh:
                x = u64() * m
        return x >> 64

    for i in range(k):
        j = i + intn(n - i)
        idx[i], idx[j] = idx[j], idx[i]
    return sorted(idx[:k])


def linear_probe(xtr, ytr, xte, yte, iters=300):
    """Multinomial logistic regression (float64, L-BFGS) -> dict of train/test accuracy and the final loss."""
    xtr, xte = xtr.double(), xte.double()
    mean = xtr.mean(0)
    std = xtr.std(0, unbiased=False)
    std[std < 1e-8] = 1.0
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    n, d = xtr.shape
    k = int(max(ytr.max(), yte.max())) + 1
    lam = 1.0 / n
    w = torch.zeros(d, k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=iters, history_size=10, tolerance_grad=1e-6,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + 0.5 * lam * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        loss = float(F.cross_entropy(xtr @ w + b, ytr) + 0.5 * lam * (w * w).sum())
        acc_tr = float(((xtr @ w + b).argmax(1) == ytr).double().mean())
        acc_te = float(((xte @ w + b).argmax(1) == yte).double().mean())
    return {"dim": d, "train_accuracy": acc_tr, "test_accuracy": acc_te, "final_loss": loss,
            "iterations": opt.state[opt._params[0]]["n_iter"]}


def knn(xtr, ytr, xte, yte, k=20, t=0.07):
    """Weighted cosine kNN (DINO protocol) -> held-out accuracy."""
    a, b = F.normalize(xtr.float(), dim=-1), F.normalize(xte.float(), dim=-1)
    nc = int(max(ytr.max(), yte.max())) + 1
    w, j = (b @ a.T).topk(k, dim=1)
    votes = torch.zeros(len(b), nc).scatter_add_(1, ytr[j], (w / t).exp())
    return float((votes.argmax(1) == yte).float().mean())


@torch.no_grad()
def encoder_features(vit, ae, x_u8, dev, bf16=True):
    """uint8 images [N,C,H,W] -> dict of feature tensors [N, dim]."""
    out = {"dino_cls": [], "dino_patch": [], "residual": []}
    for i in range(0, len(x_u8), 256):
        xb = C.imagenet_norm(C.to_float_rgb(x_u8[i:i + 256], dev))
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
            hn, _ = M.dino_tokens(vit, xb)
            if ae is not None:
                out["residual"].append(ae.extra_vit(xb).float().mean(-1).cpu())
        out["dino_cls"].append(hn[:, 0].float().cpu())
        out["dino_patch"].append(hn[:, 1 + vit.n_storage_tokens:].float().mean(1).cpu())
    out = {k: torch.cat(v) for k, v in out.items() if v}
    out["dino_both"] = torch.cat([out["dino_cls"], out["dino_patch"]], 1)
    return out


def pixel_features(x_u8):
    """Pixels in [0,1], area-averaged by the smallest power of two that brings the dimension to ≤ 1024."""
    n, c, h, w = x_u8.shape
    f = 1
    while (h // f) * (w // f) * c > 1024 and h % (2 * f) == 0 and w % (2 * f) == 0:
        f *= 2
    x = F.avg_pool2d(x_u8.double() / 255, f) if f > 1 else x_u8.double() / 255
    return x.permute(0, 2, 3, 1).reshape(n, -1)  # HWC order, as novae's


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dino", required=True, help="train_dino.py checkpoint (ckpt.pt; its teacher backbone is probed)")
    ap.add_argument("--ae", help="train_ae.py checkpoint (adds the residual branch's features)")
    ap.add_argument("--preset", help="preset name (default: the one stored in the checkpoint)")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--train-n", type=int, default=3000)
    ap.add_argument("--test-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="as novae eval -seed (train subset seed+4, held-out seed+5)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-pixels", action="store_true", help="skip the raw-pixel probe")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device("cpu")
    t0 = time.time()

    ck = torch.load(args.dino, map_location="cpu", weights_only=False)
    cfg = ck["cfg"]
    if args.preset and args.preset != cfg["data"]["name"]:
        raise SystemExit(f"{args.dino} was trained on {cfg['data']['name']}, not {args.preset}")
    vit = M.load_frozen_dino(ck, cfg, dev)
    ae = None
    if args.ae:
        cka = torch.load(args.ae, map_location="cpu", weights_only=False)
        ae = M.load_frozen_ae(cka, cka.get("cfg", cfg), dev)

    name = cfg["data"]["name"]
    xtr, ytr = C.load_split(args.data, name, "train")
    xte, yte = C.load_split(args.data, name, "test")
    itr = torch.tensor(go_sample(len(xtr), args.train_n, args.seed + 4))
    ite = torch.tensor(go_sample(len(xte), args.test_n, args.seed + 5))
    xtr, ytr, xte, yte = xtr[itr], ytr[itr], xte[ite], yte[ite]

    ftr = encoder_features(vit, ae, xtr, dev)
    fte = encoder_features(vit, ae, xte, dev)
    if not args.no_pixels:
        ftr["pixels"], fte["pixels"] = pixel_features(xtr), pixel_features(xte)
    res = {"dino_step": ck["step"], "dino_total_steps": ck["total_steps"], "train_n": len(itr), "test_n": len(ite),
           "protocol": "logistic regression, standardised, L2 1/N, L-BFGS <= 300 it.; kNN k=20 T=0.07 cosine"}
    for k in ftr:
        r = linear_probe(ftr[k], ytr, fte[k], yte)
        r["knn_accuracy"] = knn(ftr[k], ytr, fte[k], yte)
        res[k] = r
        print(f"{k:11s} {r['dim']:5d}-d  probe {100 * r['test_accuracy']:5.1f}% (train {100 * r['train_accuracy']:5.1f}%)"
              f"  kNN {100 * r['knn_accuracy']:5.1f}%", flush=True)
    res["seconds"] = round(time.time() - t0, 1)
    print(f"({len(itr)} train / {len(ite)} held-out images, DINO step {ck['step']}/{ck['total_steps']}, "
          f"{res['seconds']:.0f}s)")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
