"""PyTorch figures for the networks tools/bench times through novae, in the same line format.

Times the PyTorch twins of SVG's official modules (tools/reference/svg_modules.py, checked equal to the official
code by tools/reference/verify_official.py) with random weights, on CUDA when present (else the CPU):

  dit_cfg_step  the SVG-XL DiT forward at batch 2 (one CFG step: [class; null] in one batch, as novae runs it),
                with t-embedder and class embedding, 256 tokens
  decoder       the LDM decoder, 16x16x392 latent -> 256x256 image, batch 1
  sample_4/25   4 and 25 Euler steps with CFG 4 (one batch-2 forward per step) + decode
  and the same CFG step and 4-step sample for novae's small default models ("emoji", "digits").

Precisions: fp32 (TF32 off: the target novae is measured against), tf32, bf16 (torch.autocast) and bf16w (weights
and activations cast to bfloat16). Rates use novae's FLOP count (tools/bench/network.go: velocity rows only, as
novae computes), so rate ratios equal time ratios.

    python3 tools/torchbench/bench.py [--small] [--json FILE] [--filter REGEX] [--precisions fp32,bf16]

--small (the default without CUDA) swaps SVG-XL for the committed fixtures' "tiny" config, as tools/bench -small.
Needs only torch (+ numpy, which svg_modules uses for the position table). torch 1.13 works (explicit attention);
torch >= 2 uses F.scaled_dot_product_attention in the DiT, as the official models/models_SVG.py does.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import sys
import time
import warnings

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import svg_modules as svg  # noqa: E402


# --------------------------------------------------------------------------------------------------------------
# Device fixes for the twins (written for CPU parity tests): the official TimestepEmbedder builds its frequencies
# on t's device, and the official DiT attention is F.scaled_dot_product_attention.

def _frequencies(t, dim, max_period=10000):
    half = dim // 2
    f = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    a = t.float()[:, None] * f[None]
    e = torch.cat([torch.cos(a), torch.sin(a)], dim=-1)
    if dim % 2:
        e = torch.cat([e, torch.zeros_like(e[:, :1])], dim=-1)
    return e


svg.TimestepEmbedder.frequencies = staticmethod(_frequencies)
# bf16w: the frequencies are f32; the official embedder casts them to the weights' dtype.
svg.TimestepEmbedder.forward = lambda self, t: self.mlp(self.frequencies(t, self.freq_dim).to(self.mlp[0].weight.dtype))

if hasattr(F, "scaled_dot_product_attention"):
    def _dit_attention(self, x):
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v)
        return self.proj(o.transpose(1, 2).reshape(B, N, -1))

    svg.DiTAttention.forward = _dit_attention
    DIT_ATTN = "F.scaled_dot_product_attention"
else:
    DIT_ATTN = "explicit softmax(q k^T) v (torch < 2)"


# --------------------------------------------------------------------------------------------------------------
# Configs: the same as tools/bench (network.go); the small models are read from models/<name>/model.json, as
# tools/bench's TestSmallModelsAreShipped checks its own against.

def dit_cfg(name, small):
    if name == "svg-xl" and small:
        name = "tiny"
    if name == "svg-xl":
        return dict(in_channels=392, hidden_size=1152, depth=28, num_heads=16, mlp_ratio=4.0, num_classes=1000,
                    learn_sigma=True, qk_norm=True, num_patches=256)
    if name == "tiny":
        return dict(in_channels=72, hidden_size=64, depth=2, num_heads=4, mlp_ratio=4.0, num_classes=10,
                    learn_sigma=True, qk_norm=True, num_patches=16)
    d = shipped(name)["dit"]  # emoji / digits: exactly the shipped model
    return dict(in_channels=d["InChannels"], hidden_size=d["Hidden"], depth=d["Depth"], num_heads=d["Heads"],
                mlp_ratio=float(d["MLPRatio"]), num_classes=d["NumClasses"], learn_sigma=d["LearnSigma"],
                qk_norm=d["QKNorm"], num_patches=d["Grid"] * d["Grid"])


def dec_cfg(name, small):
    if name == "svg-xl" and small:
        name = "tiny"
    if name == "svg-xl":
        return dict(z_channels=392, ch=128, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2, attn_resolutions=(16,),
                    resolution=256)
    if name == "tiny":
        return dict(z_channels=72, ch=32, ch_mult=(2, 1), num_res_blocks=1, attn_resolutions=(4,), resolution=8)
    d = shipped(name)["decoder"]
    if d.get("Groups", 32) != 32:
        sys.exit(f"torchbench: {name}'s decoder uses {d['Groups']} groups; the twin has 32")
    return dict(z_channels=d["ZChannels"], ch=d["Ch"], out_ch=d["OutCh"], ch_mult=tuple(d["ChMult"]),
                num_res_blocks=d["NumResBlocks"], attn_resolutions=tuple(d["AttnRes"]), resolution=d["Resolution"])


def shipped(name):
    """The config of models/<name> (its model.json's "config" metadata): what novae-bench times for that name."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", name, "model.json")
    with open(path) as f:
        return json.loads(json.load(f)["metadata"]["config"])


# FLOP counts: identical to tools/bench/network.go (ditFLOP, decoderFLOP).

def dit_flop(c, B):
    T = c["num_patches"]
    H, C = c["hidden_size"], c["in_channels"]
    M = B * T
    mlp = int(H * c["mlp_ratio"])
    block = 2 * M * H * 3 * H + 2 * M * H * H + 2 * 2 * M * H * mlp + 4 * B * T * T * H + 2 * B * H * 6 * H
    return c["depth"] * block + 2 * M * C * H + 2 * M * H * C + 2 * B * H * 2 * H + 2 * B * (256 * H + H * H)


def decoder_flop(c, B):
    L = len(c["ch_mult"])
    r = c["resolution"] >> (L - 1)
    st = {"r": r}

    def conv(cin, cout, k):
        return 2.0 * cin * cout * k * k * st["r"] * st["r"]

    def res(i, o):
        f = conv(i, o, 3) + conv(o, o, 3)
        return f + (conv(i, o, 1) if i != o else 0)

    def attn(ch):
        hw = st["r"] * st["r"]
        return 4 * conv(ch, ch, 1) + 4.0 * hw * hw * ch

    ch = c["ch"] * c["ch_mult"][-1]
    f = conv(c["z_channels"], ch, 3) + 2 * res(ch, ch) + attn(ch)
    for lvl in reversed(range(L)):
        out = c["ch"] * c["ch_mult"][lvl]
        for _ in range(c["num_res_blocks"] + 1):
            f += res(ch, out)
            ch = out
            if st["r"] in c["attn_resolutions"]:
                f += attn(ch)
        if lvl != 0:
            st["r"] *= 2
            f += conv(ch, ch, 3)
    return B * (f + conv(ch, 3, 3))


# --------------------------------------------------------------------------------------------------------------
# Precision contexts.

def set_tf32(on):
    """TF32 for matmuls and cuDNN convolutions (the legacy flags; still honoured by torch 2.x)."""
    warnings.filterwarnings("ignore", message=".*TF32.*")
    warnings.filterwarnings("ignore", message=".*fp32_precision.*")
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


class Precision:
    def __init__(self, name, dev):
        self.name, self.dev = name, dev

    def __enter__(self):
        if self.dev.type == "cuda":
            set_tf32(self.name == "tf32")
        self.ac = None
        if self.name == "bf16":
            self.ac = torch.autocast(device_type=self.dev.type, dtype=torch.bfloat16)
            self.ac.__enter__()
        return self

    def __exit__(self, *a):
        if self.ac is not None:
            self.ac.__exit__(*a)

    def dtype(self):
        return torch.bfloat16 if self.name == "bf16w" else torch.float32


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(fn, dev, iters=0, target=0.05, reps=3, max_iters=1000):
    """Best of reps batches of iters runs: (ms per run by CUDA events or wall, wall ms per run, iters)."""
    fn()
    fn()  # warm-up: cuDNN autotuning, allocator
    sync(dev)

    def batch(n):
        t0 = time.perf_counter()
        if dev.type == "cuda":
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(n):
                fn()
            b.record()
            b.synchronize()
            gpu = a.elapsed_time(b)
        else:
            for _ in range(n):
                fn()
            gpu = None
        wall = (time.perf_counter() - t0) * 1e3
        return (gpu if gpu is not None else wall), wall

    if iters <= 0:
        iters = 1
        for _ in range(4):
            _, took = batch(iters)
            if took >= target * 1e3 / 2 or iters >= max_iters:
                break
            iters = min(max_iters, max(2 * iters, int(iters * target * 1e3 / max(took, 1e-3))))
    best, bestw = math.inf, math.inf
    for _ in range(reps):
        g, w = batch(iters)
        best, bestw = min(best, g), min(bestw, w)
    return best / iters, bestw / iters, iters


# --------------------------------------------------------------------------------------------------------------
# Lines.

def build(name, small, dev, dtype):
    torch.manual_seed(0)
    dc = dit_cfg(name, small)
    dit = svg.DiT(class_dropout_prob=0.1, **dc).to(dev).eval()
    dec = svg.Decoder(**dec_cfg(name, small)).to(dev).eval()
    if dtype != torch.float32:
        dit, dec = dit.to(dtype), dec.to(dtype)
    return dit, dec


def short(name, small):
    return "tiny" if (name == "svg-xl" and small) else name


def lines_for(name, small, prec, dev, args, models):
    """Yields (kernel, shape, note, flop, fn, iters)."""
    key = (name, prec.dtype())
    if key not in models:
        models[key] = build(name, small, dev, prec.dtype())
    dit, dec = models[key]
    dc, ec = dit_cfg(name, small), dec_cfg(name, small)
    T, C, ncls = dc["num_patches"], dc["in_channels"], dc["num_classes"]
    dt = prec.dtype()
    g = torch.Generator(device="cpu").manual_seed(1)
    x = torch.randn(2, T, C, generator=g).to(dev, dt)
    t = torch.full((2,), 0.5, device=dev)
    y = torch.tensor([1, ncls], device=dev)
    sn = short(name, small)
    tag = {"fp32": "f32", "tf32": "tf32", "bf16": "bf16", "bf16w": "bf16w"}[prec.name]

    def step():
        return dit(x, t, y)

    yield ("dit_cfg_step", f"{sn} B=2 T={T} {tag}", "one CFG step: DiT forward at batch 2", dit_flop(dc, 2), step, 0)

    L = len(ec["ch_mult"])
    r = ec["resolution"] >> (L - 1)
    z = torch.randn(1, ec["z_channels"], r, r, generator=g).to(dev, dt)
    if name == "svg-xl":
        yield ("decoder", f"{sn} B=1 {r}²→{ec['resolution']}² {tag}", "LDM decoder",
               decoder_flop(ec, 1), lambda: dec(z), 0)

    tg = {}

    def sample(steps):
        if steps not in tg:
            ts, dts = svg.time_grid(steps, 0.15)
            tg[steps] = ([torch.full((2,), float(v), device=dev) for v in ts[:-1]], [float(d) for d in dts])
        tt, dts = tg[steps]
        zz = torch.randn(1, T, C, device=dev, dtype=dt)
        for i in range(steps):
            out = dit(torch.cat([zz, zz]), tt[i], y)[..., :C]
            vc, vu = out[:1], out[1:]
            zz = zz + dts[i] * (vu + 4.0 * (vc - vu))
        return dec(svg.tokens_to_map(zz))

    for steps in ((4, 25) if name == "svg-xl" else (4,)):
        if name != "svg-xl" or steps == 4 or prec.name in ("fp32", "bf16"):
            yield (f"sample_{steps}", f"{sn} B=1 CFG {steps} steps {tag}", f"{steps}-step sample (CFG 4) + decode",
                   steps * dit_flop(dc, 2) + decoder_flop(ec, 1), lambda s=steps: sample(s), 1)


def num(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny config instead of SVG-XL (default without CUDA)")
    ap.add_argument("--full", action="store_true", help="SVG-XL even without CUDA")
    ap.add_argument("--json", help="also write the results to FILE")
    ap.add_argument("--filter", default="", help="REGEX on 'kernel shape note'")
    ap.add_argument("--precisions", default="", help="comma list of fp32,tf32,bf16,bf16w "
                    "(default: all on CUDA; fp32,bf16w on the CPU, where torch 1.13's autocast fails on these models)")
    ap.add_argument("--models", default="svg-xl,emoji,digits")
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--device", default="")
    args = ap.parse_args()

    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    small = args.small or (dev.type != "cuda" and not args.full)
    precisions = args.precisions or ("fp32,tf32,bf16,bf16w" if dev.type == "cuda" else "fp32,bf16w")
    if dev.type == "cpu":
        torch.set_num_threads(max(1, min(os.cpu_count() or 1, 16)))
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    cuda = f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}" if dev.type == "cuda" else \
        f", {torch.get_num_threads()} threads"
    method = ("CUDA events" if dev.type == "cuda" else "wall clock") + ", best of 3 batches after 2 warm-up runs"
    print(f"torchbench    {date}")
    print(f"device        {name} [{dev.type}] torch {torch.__version__}{cuda}")
    print(f"timing        {method}; ms = per run; wall = batch wall time per run; eager mode, no torch.compile")
    print(f"attention     DiT: {DIT_ATTN}; decoder: explicit (as LDM's AttnBlock)")
    print(f"precisions    fp32 = TF32 off; tf32; bf16 = torch.autocast; bf16w = weights and inputs in bfloat16")
    print("shapes        " + ("SHRUNK (--small): tiny config, not SVG-XL's" if small else "SVG-XL's real shapes"))
    print()
    print(f"{'kernel':16} {'shape':28} {'ms':>10} {'rate':>16} {'wall ms':>10} {'iters':>6}  note")

    re_f = re.compile(args.filter)
    models, results = {}, []
    for mname in args.models.split(","):
        for pname in precisions.split(","):
            if pname in ("tf32", "bf16w") and mname != "svg-xl":
                continue
            if pname in ("tf32",) and dev.type != "cuda":
                continue
            prec = Precision(pname, dev)
            with torch.no_grad(), prec:
                if dev.type == "cuda" and mname == "svg-xl":
                    tf = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
                    print(f"# {pname}: matmul allow_tf32={tf[0]}, cudnn allow_tf32={tf[1]}", flush=True)
                for kernel, shape, note, flop, fn, it in lines_for(mname, small, prec, dev, args, models):
                    if not re_f.search(f"{kernel} {shape} {note}"):
                        continue
                    r = {"kernel": kernel, "shape": shape, "note": note, "precision": pname, "model": short(mname, small),
                         "flop": flop}
                    try:
                        ms, wall, iters = measure(fn, dev, iters=args.iters or it)
                        r.update(ms=ms, wall_ms=wall, iters=iters, tflop_s=flop / (ms * 1e9))
                        print(f"{kernel:16} {shape:28} {ms:10.4f} {num(r['tflop_s']) + ' TFLOP/s':>16} {wall:10.4f} "
                              f"{iters:6d}  {note}", flush=True)
                    except Exception as e:  # noqa: BLE001 (a line that fails says why; the rest still run)
                        r["error"] = f"{type(e).__name__}: {e}"
                        print(f"{kernel:16} {shape:28}  error: {r['error']}", flush=True)
                    results.append(r)
        for k in [k for k in models if k[0] == mname]:
            del models[k]  # free the model before the next one
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": date, "device": name, "torch": torch.__version__, "small": small,
                       "method": method, "dit_attention": DIT_ATTN, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
