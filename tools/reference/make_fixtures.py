"""Regenerate the golden fixtures in model/testdata/ (run from the repository root, ~10 s on 1 CPU core):

    /usr/bin/python3 tools/reference/make_fixtures.py            # writes model/testdata/*
    /usr/bin/python3 tools/reference/make_fixtures.py --out DIR  # elsewhere

Needs only torch (Debian python3-torch 1.13) and numpy. Deterministic: fixed seeds, float32, CPU, one thread.
Reduced configurations with RANDOM weights (every parameter randomised, including the adaLN / final layers that
the official init zeroes) so that each weight influences the outputs. Files:
  dit_tiny.pt              {"ema": DiT state_dict}            (official train_svg.py checkpoint format)
  dit_tiny_io.safetensors  x, t, y -> out (+ dbg_* intermediates)
  ae_tiny.ckpt             Lightning-style {"state_dict": ...} (encoder. / extra_vit. / decoder. / ...)
  ae_tiny_io.safetensors   image -> dino, residual_raw, residual, latent -> decoded (+ dbg_*)
  stats_tiny.pt            {"dinov3_sp_mean": [1,1,C], "dinov3_sp_std": [1,1,C]}
  sample_tiny.safetensors  Euler (3 steps, CFG 4 constant) and Heun (2 steps, CFG 4 linear) runs, shift 0.15
Integer tensors (class labels) are stored as F32 holding exact integer values.
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402
import svg_modules as S  # noqa: E402

SEED = 20251017
REGEN = "/usr/bin/python3 tools/reference/make_fixtures.py"

DIT_CFG = dict(in_channels=72, hidden_size=64, depth=2, num_heads=4, mlp_ratio=4.0, class_dropout_prob=0.1,
               num_classes=10, learn_sigma=True, qk_norm=True, num_patches=16)
DINO_CFG = dict(patch_size=16, in_chans=3, embed_dim=64, depth=2, num_heads=2, ffn_ratio=3.0, n_storage_tokens=4,
                rope_base=100.0, norm_eps=1e-5)  # SwiGLU hidden = int(64*3*2/3) = 128; head dim 32
VIT_CFG = dict(image_size=64, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=128, output_dim=8)
DEC_CFG = dict(z_channels=72, ch=32, out_ch=3, ch_mult=[2, 1], num_res_blocks=1, attn_resolutions=[4],
               resolution=8)
AE_CFG = dict(embed_dim=32, mask_ratio=0.1, use_outnorm=True)
IMAGE = 64
N = 2


def randomize_(model, g, keep=()):
    """Deterministically overwrite every parameter (buffers such as bias_mask / rope periods are untouched):
    norm weights 1 +- 0.1, norm biases / other biases N(0, 0.05^2), matrices N(0, 1/fan_in), embedding tables
    N(0, 0.5^2), LayerScale gammas U(0.1, 0.4), free tokens / position tables N(0, 0.2^2). Names in `keep`
    (e.g. the fixed sin-cos pos_embed) are left as they are."""
    for mname, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if full in keep:
                continue
            shape = p.shape
            r = torch.randn(shape, generator=g)
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
                v = 1 + 0.1 * r if pname == "weight" else 0.05 * r
            elif type(m).__name__ == "LayerScale":
                v = 0.1 + 0.3 * torch.rand(shape, generator=g)
            elif isinstance(m, nn.Embedding):
                v = 0.5 * r
            elif "bias" in pname:
                v = 0.05 * r
            elif p.dim() >= 2 and pname in ("weight", "in_proj_weight"):
                v = r / math.sqrt(p[0].numel())
            else:
                v = 0.2 * r
            with torch.no_grad():
                p.copy_(v)
    return model


def smooth_image(g, n, size):
    lo = torch.rand(n, 3, 8, 8, generator=g)
    img = F.interpolate(lo, size=(size, size), mode="bilinear", align_corners=False)
    img = (img + 0.05 * torch.randn(img.shape, generator=g)).clamp(0, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (img - mean) / std


def meta(desc, **cfg):
    return {"description": desc, "regenerate": REGEN, "config": json.dumps(cfg, sort_keys=True)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "model", "testdata"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    summary = []

    def note(path, tensors=None):
        summary.append((os.path.basename(path), os.path.getsize(path), tensors))

    # ---------------------------------------------------------------- DiT
    dit = randomize_(S.DiT(**DIT_CFG), g, keep=("pos_embed",)).eval()
    p = os.path.join(out, "dit_tiny.pt")
    torch.save({"ema": dit.state_dict()}, p)
    note(p)
    T, C = DIT_CFG["num_patches"], DIT_CFG["in_channels"]
    x = torch.randn(N, T, C, generator=g)
    t = torch.tensor([0.3125, 0.871])
    y = torch.tensor([3, DIT_CFG["num_classes"]])  # second one is the null (CFG) class
    o = dit(x, t, y)
    t_freq = S.TimestepEmbedder.frequencies(t, 256)
    c = dit.t_embedder(t) + dit.y_embedder(y)
    h0 = dit.ln1(x) + dit.pos_embed
    ada0 = dit.blocks[0].adaLN_modulation(c)
    blk0 = dit.blocks[0](h0, c)
    tens = OrderedDict(x=x, t=t, y=y.float(), out=o, dbg_t_freq=t_freq, dbg_c=c, dbg_h0=h0, dbg_ada0=ada0,
                       dbg_block0=blk0)
    p = os.path.join(out, "dit_tiny_io.safetensors")
    st.save(p, tens, meta("SVG DiT (patch 1) forward on random weights from dit_tiny.pt['ema']. y stored as F32 "
                          "(exact integers; index num_classes = null class). out = full learn_sigma output "
                          "(first in_channels channels = velocity). dbg_h0 = ln1(x)+pos_embed, dbg_c = t_emb+y_emb,"
                          " dbg_ada0 = blocks.0.adaLN_modulation(c), dbg_block0 = blocks.0(dbg_h0, c)",
                          **DIT_CFG))
    note(p, tens)

    # ---------------------------------------------------------------- autoencoder
    ae = randomize_(S.SVGAutoencoder(DINO_CFG, VIT_CFG, DEC_CFG, **AE_CFG), g).eval()
    sd = ae.state_dict()  # keeps the OrderedDict `_metadata` attribute like a real checkpoint
    sd["loss.logvar"] = torch.tensor(0.0)  # stands for the training-loss keys (loss.*) a real checkpoint carries
    p = os.path.join(out, "ae_tiny.ckpt")
    torch.save({"epoch": 0, "global_step": 0, "pytorch-lightning_version": "2.0.0", "state_dict": sd}, p)
    note(p)
    image = smooth_image(g, N, IMAGE)
    parts = ae.encode_parts(image)
    decoded = ae.decode(parts["latent_map"])
    pe, Hp, Wp = ae.encoder.patch_embed(image)
    sin, cos = ae.encoder.rope_embed(Hp, Wp)
    tens = OrderedDict(image=image, dino=parts["dino"], residual_raw=parts["residual_raw"],
                       residual=parts["residual"], latent=parts["latent"], decoded=decoded,
                       dbg_patch_embed=pe, dbg_rope_sin=sin, dbg_rope_cos=cos)
    p = os.path.join(out, "ae_tiny_io.safetensors")
    st.save(p, tens, meta(
        "SVG autoencoder on random weights from ae_tiny.ckpt. image: ImageNet-normalised [N,3,H,W]; dino: "
        "x_norm_patchtokens [N,T,Cd]; residual_raw: residual ViT output [N,T,r]; residual: after "
        "match_distribution with statistics over the WHOLE batch of N images; latent = concat [N,T,Cd+r] "
        "(tokens row-major); decoded = decoder(latent as [N,C,h,w]) (no clamp). dbg_patch_embed = patch tokens "
        "[N,T,Cd] before cls/storage; dbg_rope_sin/cos [T, head_dim]",
        dino=DINO_CFG, residual_vit=VIT_CFG, decoder=DEC_CFG, autoencoder=AE_CFG, image_size=IMAGE))
    note(p, tens)

    # ---------------------------------------------------------------- stats
    mean = (0.3 * torch.randn(1, 1, C, generator=g))
    std = (0.5 + 1.5 * torch.rand(1, 1, C, generator=g))
    p = os.path.join(out, "stats_tiny.pt")
    torch.save({"dinov3_sp_mean": mean, "dinov3_sp_std": std}, p)
    note(p)

    # ---------------------------------------------------------------- sampling
    noise = torch.randn(N, T, C, generator=g)
    yc = torch.tensor([1, 7])
    yn = torch.full_like(yc, DIT_CFG["num_classes"])
    W, SHIFT = 4.0, 0.15
    tens = OrderedDict(noise=noise, y=yc.float(), y_null=yn.float(), stats_mean=mean, stats_std=std)
    runs = {}
    for name, mode, steps, cm in (("euler", "euler", 3, "constant"), ("heun", "heun", 2, "linear")):
        traj, vlog = [], []
        zf = S.rf_sample(dit, noise, yc, yn, steps=steps, cfg=W, mode=mode, shift=SHIFT, cfg_mode=cm,
                         trajectory=traj, vlog=vlog)
        tg, _ = S.time_grid(steps, SHIFT)
        evals = 2 if mode == "heun" else 1
        scales = [[S.cfg_scale(cm, W, i, steps, float(tg[i + e])) for e in range(evals)] for i in range(steps)]
        den = S.denormalize(zf, mean, std)
        dec = ae.decode(S.tokens_to_map(den))
        tens[f"{name}_t"] = tg
        tens[f"{name}_cfg"] = torch.tensor(scales, dtype=torch.float32)
        if mode == "euler":  # first evaluation (t_0, same for both runs): raw v_cond / v_uncond
            tens[f"{name}_v0_cond"], tens[f"{name}_v0_uncond"] = vlog[0]
        else:  # Heun corrector of step 0 (at t_1 on the Euler predictor z~)
            tens[f"{name}_v1_cond"], tens[f"{name}_v1_uncond"] = vlog[1]
        tens[f"{name}_z"] = torch.stack(traj)
        tens[f"{name}_final"] = zf
        tens[f"{name}_denorm"] = den
        tens[f"{name}_decoded"] = dec
        runs[name] = dict(mode=mode, steps=steps, cfg=W, cfg_mode=cm, shift=SHIFT)
    p = os.path.join(out, "sample_tiny.safetensors")
    st.save(p, tens, meta(
        "Rectified-flow sampling with dit_tiny.pt + decoder of ae_tiny.ckpt + stats_tiny.pt. t=0 noise, t=1 data; "
        "<run>_t: time grid [steps+1]; <run>_cfg: guidance scale per [step, evaluation] (Heun: predictor at t_i, "
        "corrector at t_{i+1}); euler_v0_cond/uncond: velocity half of the model outputs of the first evaluation "
        "(t_0, y / y_null); heun_v1_cond/uncond: the same for the corrector of step 0 (t_1, z~ = z0 + dt0*v); "
        "<run>_z: z after each step [steps,N,T,C]; <run>_final = last z (normalised space); <run>_denorm = "
        "final*std+mean; <run>_decoded = decoder(denorm as [N,C,h,w]) before the clamp(-1,1) of sample_svg.py. "
        "y, y_null stored as F32.",
        runs=runs, dit=DIT_CFG, decoder=DEC_CFG, null_class=DIT_CFG["num_classes"]))
    note(p, tens)

    # ---------------------------------------------------------------- summary
    total = 0
    for fname, size, tensors in summary:
        total += size
        print(f"{fname:28s} {size:9d} bytes")
        for k, v in (tensors or {}).items():
            print(f"    {k:22s} {list(v.shape)}  mean {v.float().mean():+.4f}  std {v.float().std():.4f}")
    for fname in ("dit_tiny.pt", "ae_tiny.ckpt"):
        ck = torch.load(os.path.join(out, fname), map_location="cpu")
        sdk = ck["ema"] if "ema" in ck else ck["state_dict"]
        print(f"{fname}: {len(sdk)} keys, {sum(v.numel() for v in sdk.values())} values; first: {list(sdk)[:4]}")
    print(f"total {total} bytes ({total / 2**20:.2f} MiB)")
    assert total < 3_000_000, "fixtures exceed the 3 MB budget"
    check(out)


def check(out):
    """Reload the files, rebuild fresh modules from the metadata configs, load the checkpoints with
    strict=True (the way a converter would: "ema" / "state_dict" minus loss.*) and recompute every output."""
    def cmp(name, got, ref):
        err = (torch.as_tensor(got) - torch.as_tensor(ref)).abs().max().item()
        assert err <= 1e-5 * max(1.0, torch.as_tensor(ref).abs().max().item()), f"{name}: {err}"

    io, m = st.load(os.path.join(out, "dit_tiny_io.safetensors"))
    dit = S.DiT(**json.loads(m["config"])).eval()
    dit.load_state_dict(torch.load(os.path.join(out, "dit_tiny.pt"), map_location="cpu")["ema"], strict=True)
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    cmp("dit out", dit(t(io["x"]), t(io["t"]), t(io["y"]).long()), io["out"])

    io, m = st.load(os.path.join(out, "ae_tiny_io.safetensors"))
    cfg = json.loads(m["config"])
    ae = S.SVGAutoencoder(cfg["dino"], cfg["residual_vit"], cfg["decoder"], **cfg["autoencoder"]).eval()
    sd = torch.load(os.path.join(out, "ae_tiny.ckpt"), map_location="cpu")["state_dict"]
    ae.load_state_dict({k: v for k, v in sd.items() if not k.startswith("loss.")}, strict=True)
    parts = ae.encode_parts(t(io["image"]))
    for k in ("dino", "residual_raw", "residual", "latent"):
        cmp(f"ae {k}", parts[k], io[k])
    cmp("ae decoded", ae.decode(S.tokens_to_map(t(io["latent"]))), io["decoded"])

    io, m = st.load(os.path.join(out, "sample_tiny.safetensors"))
    stats = torch.load(os.path.join(out, "stats_tiny.pt"), map_location="cpu")
    for name, r in json.loads(m["config"])["runs"].items():
        traj = []
        zf = S.rf_sample(dit, t(io["noise"]), t(io["y"]).long(), t(io["y_null"]).long(), steps=r["steps"],
                         cfg=r["cfg"], mode=r["mode"], shift=r["shift"], cfg_mode=r["cfg_mode"], trajectory=traj)
        cmp(f"{name} z", torch.stack(traj), io[f"{name}_z"])
        den = S.denormalize(zf, stats["dinov3_sp_mean"], stats["dinov3_sp_std"])
        cmp(f"{name} decoded", ae.decode(S.tokens_to_map(den)), io[f"{name}_decoded"])
    print("check: reloaded checkpoints (strict=True) reproduce every stored output")


if __name__ == "__main__":
    main()
