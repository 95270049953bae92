#!/usr/bin/python3
"""Throughput of one training step of each phase (synthetic batches, the preset's sizes), bf16 autocast vs fp32.
Used to size the presets; prints img/s per phase and the implied wall time of the preset's step count.

  nice -n 19 /usr/bin/python3 tools/train/bench.py --preset digits [--phases dino,ae,dit,encode] [--iters 5]
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import models as M  # noqa: E402
import presets as P  # noqa: E402
from train_dino import make_masks  # noqa: E402


def timeit(fn, iters, warm=2):
    """(wall s/step, process CPU s/step). On a shared, loaded machine the CPU time divided by the thread count
    estimates the wall time the step would take on idle cores."""
    for _ in range(warm):
        fn()
    t0, c0 = time.time(), time.process_time()
    for _ in range(iters):
        fn()
    return (time.time() - t0) / iters, (time.process_time() - c0) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--phases", default="dino,ae,dit,encode")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--fp32", action="store_true", help="also time fp32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads or os.cpu_count())
    cfg = P.get_preset(a.preset, a.set)
    S = cfg["data"]["image_size"]
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    g = torch.Generator().manual_seed(0)
    print(f"preset {a.preset}, device {dev}, threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}")
    modes = [True, False] if a.fp32 else [True]
    for ph in a.phases.split(","):
        for bf16 in modes:
            ac = lambda: torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
            if ph == "dino":
                d = cfg["dino"]
                B = d["batch"]
                st = M.DinoNet(cfg).to(dev)
                te = M.new_teacher(st, cfg).to(dev)
                opt = torch.optim.AdamW(st.parameters(), 1e-4)
                x = torch.rand(B, 3, S, S, device=dev)
                ntok = (d["global_size"] // d["patch_size"]) ** 2

                def step():
                    gl = torch.cat([C.random_resized_crop(x, d["global_size"], d["global_scale"], g)
                                    for _ in range(2)])
                    lo = torch.cat([C.random_resized_crop(x, d["local_size"], d["local_scale"], g)
                                    for _ in range(d["n_local"])])
                    m = make_masks(2 * B, ntok, d, g).to(dev)
                    with torch.no_grad(), ac():
                        te(gl, None, m, apply_mask=False)
                    with ac():
                        c, p, _ = st(gl, lo, m)
                    loss = c.float().logsumexp(-1).mean() + p.float().logsumexp(-1).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    C.ema_update(te, st, 0.99)
                steps = d["steps"]
            elif ph == "ae":
                B = cfg["ae"]["batch"]
                vit = M.build_dino(cfg).to(dev).eval()
                for p in vit.parameters():
                    p.requires_grad = False
                ae = M.AENet(cfg).to(dev)
                opt = torch.optim.AdamW(ae.parameters(), 1e-4)
                x = torch.rand(B, 3, S, S, device=dev)
                Pf = 1 + vit.n_storage_tokens

                def step():
                    xn = C.imagenet_norm(x)
                    with torch.no_grad(), ac():
                        hn, ft = M.dino_tokens(vit, xn)
                    with ac():
                        r = ae(xn, hn[:, Pf:], g).float()
                        _, fr = M.dino_tokens(vit, C.imagenet_norm((r + 1) / 2))
                        loss = (r - x).abs().mean() + sum(((fr[i] - ft[i]).float() ** 2).mean() for i in (1, 3, 5))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                steps = cfg["ae"]["steps"]
            elif ph == "dit":
                d = cfg["dit"]
                B = d["batch"]
                m = M.build_dit(cfg).to(dev)
                ema = M.copy_module(m)
                opt = torch.optim.AdamW(m.parameters(), 1e-4)
                T, Cc = P.latent_grid(cfg) ** 2, P.latent_channels(cfg)
                z = torch.randn(B, T, Cc, device=dev)
                y = torch.randint(0, cfg["data"]["num_classes"], (B,), device=dev)

                def step():
                    t = torch.rand(B, device=dev)
                    with ac():
                        out = m(z, t, y)
                    loss = (out[..., :Cc].float() - z).pow(2).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    C.ema_update(ema, m, 0.999)
                steps = d["steps"]
            elif ph == "encode":
                B = cfg["ae"]["batch"]
                vit = M.build_dino(cfg).to(dev).eval()
                ae = M.AENet(cfg).to(dev).eval()
                x = torch.rand(B, 3, S, S, device=dev)

                def step():
                    with torch.no_grad(), ac():
                        hn, _ = M.dino_tokens(vit, x)
                        ae.encode(x, hn[:, 5:])
                steps = 0
            else:
                raise SystemExit(ph)
            wall, cpu = timeit(step, a.iters)
            idle = cpu / torch.get_num_threads()  # wall time per step on idle cores (ideal thread scaling)
            est = f"; preset {steps} steps = {C.fmt_time(steps * idle)} idle" if steps else ""
            print(f"{ph:7s} {'bf16' if bf16 else 'fp32'} batch {B}: wall {wall * 1000:.0f} ms/step "
                  f"({B / wall:.1f} img/s), cpu {cpu * 1000:.0f} ms/step -> idle {B / idle:.1f} img/s{est}",
                  flush=True)


if __name__ == "__main__":
    main()
