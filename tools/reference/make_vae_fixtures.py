"""Golden fixtures of the VAE-latent twin (the LDM KL autoencoder + a DiT on its latent), for model/vae_test.go,
model/convert and tools/novae (run from the repository root, ~5 s on one core):

    /usr/bin/python3 tools/reference/make_vae_fixtures.py            # writes model/testdata/vae_*
    /usr/bin/python3 tools/reference/make_vae_fixtures.py --out DIR

Deterministic (fixed seed, float32, CPU, one thread), random weights (make_fixtures.randomize_: every parameter
randomised so each one moves the outputs). A tiny configuration: 8x8 RGB images, ch 8, ch_mult [1,2] (one
Downsample: f2), one ResnetBlock per level (the second with a nin_shortcut), attention at 4x4, z_channels 6,
embed_dim 4 (so quant_conv 12->8 and post_quant_conv 4->6 are not square), GroupNorm with 4 groups (see
vae_modules.groups). Files:
  vae_tiny.ckpt            Lightning {"state_dict": encoder.*, decoder.*, quant_conv.*, post_quant_conv.*, loss.logvar}
  vae_dit_tiny.pt          {"ema": DiT state_dict} on the 4x4x4 latent (hidden 32, depth 1, 2 heads, learn_sigma)
  vae_stats_tiny.pt        {"mean": [1,1,4], "std": [1,1,4]} per-channel latent statistics
  vae_tiny_io.safetensors  image [-1,1] -> h (encoder), moments (quant_conv), latent (posterior mean, tokens),
                           latent_norm, decoded (post_quant_conv + decoder of the mean); an Euler run (2 steps,
                           CFG 3, shift 0.3) from noise -> euler_final, euler_decoded
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402
import svg_modules as S  # noqa: E402
import vae_modules as V  # noqa: E402
from make_fixtures import randomize_  # noqa: E402

SEED = 20251203
REGEN = "/usr/bin/python3 tools/reference/make_vae_fixtures.py"
GROUPS = 4
DDCONFIG = dict(double_z=True, z_channels=6, resolution=8, in_channels=3, out_ch=3, ch=8, ch_mult=[1, 2],
                num_res_blocks=1, attn_resolutions=[4])
EMBED_DIM = 4
DIT_CFG = dict(in_channels=EMBED_DIM, hidden_size=32, depth=1, num_heads=2, mlp_ratio=4.0, class_dropout_prob=0.1,
               num_classes=3, learn_sigma=True, qk_norm=True, num_patches=16)
N = 2


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

    with V.groups(GROUPS):
        vae = randomize_(V.AutoencoderKL(DDCONFIG, EMBED_DIM), g).eval()
    sd = vae.state_dict()
    sd["loss.logvar"] = torch.tensor(0.0)  # a real checkpoint carries the training loss (loss.*)
    p_vae = os.path.join(out, "vae_tiny.ckpt")
    torch.save({"epoch": 0, "global_step": 0, "pytorch-lightning_version": "2.0.0", "state_dict": sd}, p_vae)
    dit = randomize_(S.DiT(**DIT_CFG), g, keep=("pos_embed",)).eval()
    p_dit = os.path.join(out, "vae_dit_tiny.pt")
    torch.save({"ema": dit.state_dict()}, p_dit)
    C = EMBED_DIM
    mean = 0.3 * torch.randn(1, 1, C, generator=g)
    std = 0.5 + 1.5 * torch.rand(1, 1, C, generator=g)
    p_stats = os.path.join(out, "vae_stats_tiny.pt")
    torch.save({"mean": mean, "std": std}, p_stats)

    R = DDCONFIG["resolution"]
    lo = torch.rand(N, 3, 4, 4, generator=g)
    image = (F.interpolate(lo, size=(R, R), mode="bilinear", align_corners=False) * 2 - 1
             + 0.05 * torch.randn(N, 3, R, R, generator=g)).clamp(-1, 1)
    h = vae.encoder(image)
    moments = vae.quant_conv(h)
    post = V.DiagonalGaussian(moments)
    lat = V.latent_tokens(post.mode())
    lat_norm = (lat - mean) / std
    decoded = vae.decode(post.mode())

    T = DIT_CFG["num_patches"]
    noise = torch.randn(N, T, C, generator=g)
    y = torch.tensor([2, 0])
    yn = torch.full_like(y, DIT_CFG["num_classes"])
    run = dict(mode="euler", steps=2, cfg=3.0, shift=0.3, cfg_mode="constant")
    zf = S.rf_sample(dit, noise, y, yn, steps=run["steps"], cfg=run["cfg"], mode="euler", shift=run["shift"])
    den = S.denormalize(zf, mean, std)
    dec_s = vae.decode(S.tokens_to_map(den))
    tens = OrderedDict(image=image, h=h, moments=moments, latent=lat, latent_norm=lat_norm, decoded=decoded,
                       stats_mean=mean.view(-1), stats_std=std.view(-1), noise=noise, y=y.float(),
                       euler_final=zf, euler_decoded=dec_s)
    p_io = os.path.join(out, "vae_tiny_io.safetensors")
    st.save(p_io, tens, {
        "description": "LDM AutoencoderKL on random weights from vae_tiny.ckpt (GroupNorm groups = 4). image: [N,3,R,R] "
                       "in [-1,1]; h = encoder(image) [N,2z,r,r]; moments = quant_conv(h) [N,2e,r,r] (mean | logvar); "
                       "latent = posterior mean as tokens [N,r*r,e]; latent_norm = (latent - mean)/std "
                       "(vae_stats_tiny.pt); decoded = decoder(post_quant_conv(mean)) (no clamp). euler_*: rf_sample "
                       "with vae_dit_tiny.pt from noise (y, null class = num_classes) in the normalised space; "
                       "euler_decoded = decode(denormalize(euler_final) as [N,e,r,r]).",
        "regenerate": REGEN,
        "config": json.dumps({"ddconfig": DDCONFIG, "embed_dim": EMBED_DIM, "groups": GROUPS, "dit": DIT_CFG,
                              "run": run}, sort_keys=True)})
    total = 0
    for p in (p_vae, p_dit, p_stats, p_io):
        total += os.path.getsize(p)
        print(f"{os.path.basename(p):26s} {os.path.getsize(p):8d} bytes")
    for k, v in tens.items():
        print(f"    {k:14s} {list(v.shape)}  mean {v.float().mean():+.4f}  std {v.float().std():.4f}")
    print(f"total {total} bytes")
    assert total < 400_000, "VAE fixtures exceed their 400 kB budget"
    check(out)


def check(out):
    """Reload with strict=True into fresh modules built from the metadata and recompute the outputs."""
    io, m = st.load(os.path.join(out, "vae_tiny_io.safetensors"))
    cfg = json.loads(m["config"])
    with V.groups(cfg["groups"]):
        vae = V.AutoencoderKL(cfg["ddconfig"], cfg["embed_dim"]).eval()
    sd = torch.load(os.path.join(out, "vae_tiny.ckpt"), map_location="cpu")["state_dict"]
    vae.load_state_dict({k: v for k, v in sd.items() if not k.startswith("loss.")}, strict=True)
    t = torch.from_numpy
    post = vae.encode(t(io["image"]))
    for name, got in (("latent", V.latent_tokens(post.mode())), ("decoded", vae.decode(post.mode()))):
        err = (got - t(io[name])).abs().max().item()
        assert err <= 1e-5 * max(1.0, float(abs(io[name]).max())), (name, err)
    print("check: reloaded checkpoint (strict=True) reproduces the stored outputs")


if __name__ == "__main__":
    main()
