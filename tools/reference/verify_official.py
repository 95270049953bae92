"""Cross-check svg_modules.py against the OFFICIAL code (developer tool; not needed to regenerate fixtures).

    /usr/bin/python3 tools/reference/verify_official.py \
        --svg-git SVG.git --dinov3-git dinov3.git

The official sources are exported from those bare git dirs into a temporary directory (never into this tree)
and imported with small stubs for packages that are not installed (timm Mlp, einops, pytorch_lightning, tqdm,
torch._dynamo, F.scaled_dot_product_attention on torch 1.13). For each component it
  1. builds the official module (reduced size and, for key/shape checks, the real SVG size),
  2. compares state_dict key sets and shapes with the twin,
  3. randomises the official weights, loads them into the twin with strict=True and compares outputs.
torchvision's real VisionTransformer is used (Debian python3-torchvision).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import svg_modules as S  # noqa: E402
from make_fixtures import randomize_  # noqa: E402


def export(git_dir, dest, *paths):
    os.makedirs(dest, exist_ok=True)
    tar = subprocess.run(["git", "--git-dir", git_dir, "archive", "HEAD", *paths], check=True,
                         capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=tar, check=True)


def install_stubs():
    # torch 1.13 has neither torch._dynamo nor F.scaled_dot_product_attention
    if not hasattr(torch, "_dynamo"):
        torch._dynamo = types.SimpleNamespace(config=types.SimpleNamespace())
    if not hasattr(torch, "compiler"):  # used as a decorator by dinov3/layers/fp8_linear.py (never called here)
        torch.compiler = types.SimpleNamespace(allow_in_graph=lambda f: f)
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = lambda q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False: S.sdpa(q, k, v)

    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class TimmMlp(nn.Module):  # timm.models.vision_transformer.Mlp parameter layout (fc1, fc2)
        def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.0,
                     **kw):
            super().__init__()
            out_features = out_features or in_features
            self.fc1 = nn.Linear(in_features, hidden_features)
            self.act = act_layer()
            self.fc2 = nn.Linear(hidden_features, out_features)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    mod("timm")
    mod("timm.models")
    mod("timm.models.vision_transformer", Mlp=TimmMlp, PatchEmbed=None)
    mod("einops", rearrange=None, repeat=None)
    mod("pytorch_lightning", LightningModule=nn.Module)
    mod("tqdm", tqdm=lambda x, **k: x)


def check_keys(name, official_sd, twin_sd, ignore=()):
    ok = {k: tuple(v.shape) for k, v in official_sd.items() if not k.startswith(tuple(ignore))}
    tk = {k: tuple(v.shape) for k, v in twin_sd.items()}
    missing = sorted(set(ok) - set(tk))
    extra = sorted(set(tk) - set(ok))
    bad = sorted(k for k in set(ok) & set(tk) if ok[k] != tk[k])
    status = "OK" if not (missing or extra or bad) else "MISMATCH"
    print(f"[{status}] {name}: {len(ok)} official keys, {len(tk)} twin keys")
    for lbl, lst in (("missing in twin", missing), ("extra in twin", extra), ("shape differs", bad)):
        if lst:
            print(f"    {lbl}: {lst[:10]}{' ...' if len(lst) > 10 else ''}")
    assert status == "OK", name
    return sorted(ok)


def close(name, a, b, tol=2e-5):
    err = (a - b).abs().max().item()
    scale = b.abs().max().item()
    ok = err <= tol * max(1.0, scale)
    print(f"    {'OK ' if ok else 'BAD'} {name}: max|diff| = {err:.3e} (max|ref| = {scale:.3g})")
    assert ok, name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svg-git", required=True, help="bare git dir of a clone of github.com/shiml20/SVG")
    ap.add_argument("--dinov3-git", required=True, help="bare git dir of a clone of github.com/facebookresearch/dinov3")
    ap.add_argument("--keys-out", default="", help="optional: write the official key lists (name shape) here")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)

    tmp = tempfile.mkdtemp(prefix="svg_official_")
    export(args.svg_git, os.path.join(tmp, "svg"), "models", "rectified_flow", "autoencoder/ldm")
    export(args.dinov3_git, os.path.join(tmp, "dinov3"), "dinov3")
    install_stubs()
    sys.path[:0] = [os.path.join(tmp, "svg"), os.path.join(tmp, "svg", "autoencoder"), os.path.join(tmp, "dinov3")]
    from models.models_SVG import DiT as ODiT
    from rectified_flow.rectified_flow import RectifiedFlow
    from ldm.modules.diffusionmodules.model import Decoder as ODecoder
    from ldm.models.dino_decoder import create_small_vit_s, match_distribution as o_match
    from dinov3.hub.backbones import dinov3_vits16plus
    from dinov3.models.vision_transformer import DinoVisionTransformer
    from torchvision.models.vision_transformer import VisionTransformer
    keylog = {}

    # ---------------- DiT ----------------
    print("== DiT (models/models_SVG.py)")
    full = ODiT(input_size=16, patch_size=1, in_channels=392, hidden_size=1152, depth=1, num_heads=16,
                qk_norm=True, num_classes=1000, class_dropout_prob=0.1)
    keylog["dit_svgxl_depth1"] = full.state_dict()
    check_keys("DiT SVG-XL width, depth 1", full.state_dict(),
               S.DiT(in_channels=392, hidden_size=1152, depth=1, num_heads=16, qk_norm=True).state_dict())
    del full
    cfg = dict(in_channels=72, hidden_size=64, depth=2, num_heads=4, qk_norm=True, num_classes=10,
               class_dropout_prob=0.1)
    o = ODiT(input_size=16, patch_size=1, **cfg).eval()
    randomize_(o, g, keep=("pos_embed",))
    t = S.DiT(num_patches=256, **cfg).eval()
    check_keys("DiT tiny", o.state_dict(), t.state_dict())
    t.load_state_dict(o.state_dict(), strict=True)
    close("pos_embed equals twin's sin-cos table", S.DiT(num_patches=256, **cfg).pos_embed, o.pos_embed, 1e-6)
    x = torch.randn(3, 256, 72)
    tt = torch.tensor([0.0, 0.37, 1.0])
    y = torch.tensor([0, 9, 10])
    close("DiT forward", t(x, tt, y), o(x, tt, y))

    print("== RectifiedFlow.sample (rectified_flow/rectified_flow.py)")
    rf = RectifiedFlow(o)
    z0 = torch.randn(2, 256, 72)
    yc, yn = torch.tensor([1, 7]), torch.tensor([10, 10])
    for mode, steps in (("euler", 3), ("heun", 2)):
        for cm in ("constant", "linear", "late", "early-0.5", "cfg_star-1-0.3"):
            ref = rf.sample(z0, yc, yn, sample_steps=steps, cfg=4.0, mode=mode, timestep_shift=0.15, cfg_mode=cm)
            got = S.rf_sample(t, z0, yc, yn, steps=steps, cfg=4.0, mode=mode, shift=0.15, cfg_mode=cm)
            close(f"{mode} {steps} steps cfg_mode={cm}", got, ref)
    ref = rf.sample(z0, yc, None, sample_steps=2, cfg=4.0, mode="euler", timestep_shift=0.4)
    close("euler no-CFG shift 0.4", S.rf_sample(t, z0, yc, None, steps=2, mode="euler", shift=0.4), ref)

    # ---------------- Decoder ----------------
    print("== Decoder (autoencoder/ldm/modules/diffusionmodules/model.py)")
    svg_dd = dict(double_z=True, z_channels=392, resolution=256, in_channels=3, out_ch=3, ch=128,
                  ch_mult=[1, 1, 2, 2, 4], num_res_blocks=2, attn_resolutions=[16], dropout=0.0)
    od = ODecoder(**svg_dd)
    keylog["decoder_svg"] = od.state_dict()
    check_keys("Decoder SVG config", od.state_dict(), S.Decoder(**svg_dd).state_dict())
    del od
    tiny_dd = dict(z_channels=72, resolution=8, in_channels=3, out_ch=3, ch=32, ch_mult=[2, 1], num_res_blocks=1,
                   attn_resolutions=[4], dropout=0.0)
    od = ODecoder(**tiny_dd).eval()
    randomize_(od, g)
    td = S.Decoder(**tiny_dd).eval()
    check_keys("Decoder tiny", od.state_dict(), td.state_dict())
    td.load_state_dict(od.state_dict(), strict=True)
    z = torch.randn(2, 72, 4, 4)
    close("Decoder forward", td(z), od(z))

    # ---------------- DINOv3 ----------------
    print("== DINOv3 ViT (dinov3/models/vision_transformer.py, hub/backbones.py)")
    ov = dinov3_vits16plus(pretrained=False)
    keylog["dinov3_vits16plus"] = ov.state_dict()
    check_keys("DINOv3 ViT-S/16+", ov.state_dict(), S.DinoV3ViT().state_dict())
    close("vits16plus rope periods", S.DinoV3ViT().rope_embed.periods, ov.rope_embed.periods, 1e-6)
    close("vits16plus bias_mask", S.DinoV3ViT().blocks[0].attn.qkv.bias_mask, ov.blocks[0].attn.qkv.bias_mask, 0)
    del ov
    ov = DinoVisionTransformer(img_size=64, patch_size=16, pos_embed_rope_base=100,
                               pos_embed_rope_normalize_coords="separate", pos_embed_rope_rescale_coords=2,
                               pos_embed_rope_dtype="fp32", embed_dim=64, depth=2, num_heads=2, ffn_ratio=3,
                               qkv_bias=True, layerscale_init=1e-5, norm_layer="layernormbf16",
                               ffn_layer="swiglu", n_storage_tokens=4, mask_k_bias=True).eval()
    ov.init_weights()
    randomize_(ov, g)
    tv = S.DinoV3ViT(embed_dim=64, depth=2, num_heads=2, ffn_ratio=3).eval()
    check_keys("DINOv3 tiny", ov.state_dict(), tv.state_dict())
    tv.load_state_dict(ov.state_dict(), strict=True)
    img = torch.randn(2, 3, 64, 48)  # non-square on purpose (RoPE 'separate' normalisation)
    ro, rt = ov.forward_features(img), tv.forward_features(img)
    for k in ("x_norm_patchtokens", "x_norm_clstoken", "x_storage_tokens"):
        close(f"DINOv3 {k}", rt[k], ro[k])

    # ---------------- Residual ViT ----------------
    print("== Residual ViT (autoencoder/ldm/models/dino_decoder.py create_small_vit_s + torchvision)")
    orv = create_small_vit_s(output_dim=8).eval()
    keylog["residual_vit_svg"] = orv.state_dict()
    trv = S.ResidualViT().eval()
    check_keys("ResidualViT SVG config", orv.state_dict(), trv.state_dict())
    randomize_(orv, g)
    trv.load_state_dict(orv.state_dict(), strict=True)
    img = torch.randn(2, 3, 256, 256)
    close("ResidualViT SVG forward (256x256)", trv(img), orv(img))
    del orv, trv
    # reduced: same construction as create_small_vit_s with other sizes
    orv = VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=128,
                            num_classes=8, dropout=0.1, attention_dropout=0.1)
    orv.heads = nn.Sequential(nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 8))
    orv.eval()
    randomize_(orv, g)
    trv = S.ResidualViT(image_size=64, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=128).eval()
    check_keys("ResidualViT tiny", orv.state_dict(), trv.state_dict())
    trv.load_state_dict(orv.state_dict(), strict=True)
    img = torch.randn(2, 3, 64, 64)
    ref = orv.heads(orv.encoder(torch.cat([orv.class_token.expand(2, -1, -1), orv._process_input(img)], 1))[:, 1:])
    close("ResidualViT tiny forward", trv(img), ref.transpose(1, 2))
    h, hv = torch.randn(3, 64, 16) * 2 + 0.5, torch.randn(3, 8, 16) * 0.3 - 1
    close("match_distribution", S.match_distribution(h, hv), o_match(h, hv))

    # ---------------- the fixtures themselves, recomputed with the official modules ----------------
    fx = os.path.join(HERE, "..", "..", "model", "testdata")
    if os.path.exists(os.path.join(fx, "sample_tiny.safetensors")):
        import json
        import st
        print("== model/testdata fixtures recomputed with the OFFICIAL modules")
        T_ = lambda a: torch.from_numpy(a)  # noqa: E731
        io, m = st.load(os.path.join(fx, "dit_tiny_io.safetensors"))
        c = json.loads(m["config"])
        sd = torch.load(os.path.join(fx, "dit_tiny.pt"), map_location="cpu")["ema"]
        o = ODiT(input_size=4, patch_size=1, **{k: v for k, v in c.items() if k != "num_patches"}).eval()
        o.pos_embed = nn.Parameter(torch.zeros_like(sd["pos_embed"]), requires_grad=False)  # official: 256 fixed
        o.load_state_dict(sd, strict=True)
        close("dit_tiny_io out", o(T_(io["x"]), T_(io["t"]), T_(io["y"]).long()), T_(io["out"]))
        io2, m2 = st.load(os.path.join(fx, "sample_tiny.safetensors"))
        rf = RectifiedFlow(o)
        for name, r in json.loads(m2["config"])["runs"].items():
            zf = rf.sample(T_(io2["noise"]), T_(io2["y"]).long(), T_(io2["y_null"]).long(), sample_steps=r["steps"],
                           cfg=r["cfg"], mode=r["mode"], timestep_shift=r["shift"], cfg_mode=r["cfg_mode"])
            close(f"sample_tiny {name}_final", zf, T_(io2[f"{name}_final"]))
        io, m = st.load(os.path.join(fx, "ae_tiny_io.safetensors"))
        c = json.loads(m["config"])
        sd = torch.load(os.path.join(fx, "ae_tiny.ckpt"), map_location="cpu")["state_dict"]
        sub = lambda p: {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}  # noqa: E731
        d = c["dino"]
        ov = DinoVisionTransformer(img_size=c["image_size"], patch_size=d["patch_size"], pos_embed_rope_base=100,
                                   pos_embed_rope_normalize_coords="separate", pos_embed_rope_dtype="fp32",
                                   embed_dim=d["embed_dim"], depth=d["depth"], num_heads=d["num_heads"],
                                   ffn_ratio=d["ffn_ratio"], qkv_bias=True, layerscale_init=1e-5,
                                   norm_layer="layernormbf16", ffn_layer="swiglu",
                                   n_storage_tokens=d["n_storage_tokens"], mask_k_bias=True).eval()
        ov.load_state_dict(sub("encoder."), strict=True)
        v = c["residual_vit"]
        orv = VisionTransformer(image_size=v["image_size"], patch_size=v["patch_size"], num_layers=v["num_layers"],
                                num_heads=v["num_heads"], hidden_dim=v["hidden_dim"], mlp_dim=v["mlp_dim"],
                                num_classes=v["output_dim"])
        orv.heads = nn.Sequential(nn.Linear(v["hidden_dim"], v["hidden_dim"]), nn.GELU(),
                                  nn.Linear(v["hidden_dim"], v["output_dim"]))
        orv.load_state_dict(sub("extra_vit."), strict=True)
        orv.eval()
        od = ODecoder(in_channels=3, dropout=0.0, **c["decoder"]).eval()
        od.load_state_dict(sub("decoder."), strict=True)
        img = T_(io["image"])
        h = ov.forward_features(img)["x_norm_patchtokens"].permute(0, 2, 1)
        x = torch.cat([orv.class_token.expand(img.shape[0], -1, -1), orv._process_input(img)], 1)
        hv = orv.heads(orv.encoder(x)[:, 1:]).transpose(1, 2)
        close("ae_tiny_io dino", h.transpose(1, 2), T_(io["dino"]))
        close("ae_tiny_io residual_raw", hv.transpose(1, 2), T_(io["residual_raw"]))
        hv = o_match(h, hv)
        close("ae_tiny_io residual", hv.transpose(1, 2), T_(io["residual"]))
        z = torch.cat([h, hv], 1)
        zmap = z.view(z.shape[0], -1, img.shape[2] // 16, img.shape[3] // 16)
        close("ae_tiny_io decoded", od(zmap), T_(io["decoded"]))
        stats = torch.load(os.path.join(fx, "stats_tiny.pt"), map_location="cpu")
        for name in json.loads(m2["config"])["runs"]:
            s = T_(io2[f"{name}_final"]) * stats["dinov3_sp_std"] + stats["dinov3_sp_mean"]
            B, Tn, D = s.shape
            lat = s.permute(0, 2, 1).reshape(B, D, 4, 4)
            close(f"sample_tiny {name}_decoded", od(lat), T_(io2[f"{name}_decoded"]))

    if args.keys_out:
        with open(args.keys_out, "w") as f:
            for name, sd in keylog.items():
                f.write(f"# {name}: {len(sd)} keys\n")
                for k, v in sd.items():
                    f.write(f"{k} {list(v.shape)}\n")
        print("wrote", args.keys_out)
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    main()
