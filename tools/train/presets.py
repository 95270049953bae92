"""Per-model size presets for novae's two default SVG models (digits, emoji).

Every value here can be overridden from the command line of each phase (`--set key=value`, dotted keys,
e.g. `--set dino.depth=4 --set dit.steps=2000`). Shapes use the SVG names: the latent is T tokens x C channels with
T = (image/patch)^2 = 64 and C = dino.embed_dim + resvit.output_dim.

Sizes were chosen for (a) each phase well under two hours on 2 CPU cores (throughput measured in
tools/train/README.md) and (b) a shipped size of a few MB per model after int8 quantisation.
"""
import copy
import json

PRESETS = {
    "digits": {
        "data": {"name": "digits", "image_size": 32, "num_classes": 10, "flip": False, "color": False},
        "dino": {
            # 64 channels for 16 pixels per patch: at 128 the latent was 8.5x the image and so anisotropic
            # (16 of 136 principal directions held 98.8% of its variance) that the DiT learnt it slowly.
            "patch_size": 4, "embed_dim": 64, "depth": 6, "num_heads": 2, "ffn_ratio": 4.0, "n_storage_tokens": 4,
            "ls_init": 0.1,
            # Semantic-encoder recipe (tools/train/README.md, "Semantic encoder"): the old one (1024 prototypes,
            # LR 1e-3, 300 warm-up steps, teacher temperature 0.04 -> 0.06) kept the teacher uniform for most of
            # its 3,500 steps (t_sharp 0.999 at step 600) and its features under a linear probe were below raw
            # pixels. 256 prototypes, 8x the peak LR, 100 warm-up steps and a teacher starting at 0.01 leave the
            # plateau steadily (t_sharp 0.91 at step 250, 0.56 at 1,000). rotate (degrees) and stroke (probability
            # of a 3x3 dilation or erosion) are optional digit augmentations, measured but off. 7,200 steps
            # (was 4,800): the probe was still rising when the 4,800-step cosine ended.
            "head_out": 256, "head_hidden": 512, "head_bottleneck": 128,
            "global_size": 32, "local_size": 16, "n_local": 4,
            "global_scale": [0.45, 1.0], "local_scale": [0.12, 0.45], "rotate": 0.0, "stroke": 0.0,
            "batch": 64, "steps": 7200, "lr": 8e-3, "warmup": 100, "wd": [0.04, 0.2],
            "momentum": [0.992, 1.0], "teacher_temp": [0.01, 0.04], "student_temp": 0.1,
            "ibot_weight": 1.0, "koleo": 0.1, "mask_prob": 0.5, "mask_ratio": [0.1, 0.5], "freeze_last": 200, "clip": 3.0,
            "bf16": True, "centering": "sinkhorn",
        },
        "resvit": {"hidden_dim": 64, "num_layers": 3, "num_heads": 4, "mlp_dim": 256, "output_dim": 8},
        "decoder": {"ch": 32, "ch_mult": [1, 2, 3], "num_res_blocks": 1, "attn_resolutions": [8]},
        "ae": {"batch": 64, "steps": 3500, "lr": 4e-4, "warmup": 300, "perc_weight": 0.25, "mask_ratio": 0.1,
               "clip": 1.0, "bf16": True},
        # The VAE-latent twin (train_vae.py): LDM KL autoencoder with the SVG decoder's ch/ch_mult/res blocks/attn
        # for both halves (f4 here: 32² -> 8x8 tokens x 16 channels); batch, steps, LR, perceptual weight... are
        # the "ae" values (same budget and reconstruction loss), plus the KL term.
        "vae": {"z_channels": 16, "embed_dim": 16, "kl_weight": 1e-6},
        "dit": {"hidden_size": 160, "depth": 4, "num_heads": 4, "mlp_ratio": 4.0, "qk_norm": True,
                "learn_sigma": True, "class_dropout_prob": 0.1, "latent": "svg",
                # LR 1e-3 (was 4e-4; both DiTs of the pair alike): on the semantic encoder's latent the SVG DiT at
                # 4e-4 reached 42% class accuracy (4 guided steps) after 2,000 steps; at 1e-3 it had 49% at step 800
                # and 82% at step 1,200 of the same 2,000-step schedule (tools/train/README.md, "Learning rate").
                "batch": 128, "steps": 3000, "lr": 1e-3, "warmup": 300, "ema": 0.998, "shift": 0.4, "clip": 1.0,
                "bf16": True, "sample_shift": 0.15, "sample_steps": 25, "cfg": 4.0},
    },
    # emoji: 14.9k training images of 10 art sets in 48 classes (tools/data/prepare.py). Sized so the served model
    # (DINO + residual ViT + decoder + DiT = 13.9M parameters) is about 14 MiB at int8 (limit 16 MiB): DINO 160 wide
    # x 8 blocks (2.5M; latent 160 + 8 = 168 channels for 192 pixel values per patch, 0.9x the image as the 136 of
    # the 2.9k-image preset was 0.7x), decoder 2.4M with more channels at the low resolutions (32/64/96/128), DiT
    # 256 x 7 blocks (8.7M, was 2.0M: the capacity the 48 classes need). Step counts: more images seen than the
    # previous preset in every phase (DINO 26, AE 17, DiT 103 epochs); on one idle CPU core (bench.py) about 3.7 h +
    # 2.9 h + 7.4 h, resumable; tools/train/gpu.sh fits every phase into one 10-minute GPU run instead.
    "emoji": {
        "data": {"name": "emoji", "image_size": 64, "num_classes": 48, "flip": True, "color": True},
        "dino": {
            "patch_size": 8, "embed_dim": 160, "depth": 8, "num_heads": 2, "ffn_ratio": 4.0, "n_storage_tokens": 4,
            "ls_init": 0.1,
            # The digits semantic-encoder recipe (256 prototypes, LR 8e-3 after 100 warm-up steps, teacher 0.01 ->
            # 0.04; README "Semantic encoder"): the old one's teacher stayed uniform there. Carried over, not yet
            # measured on emoji.
            "head_out": 256, "head_hidden": 512, "head_bottleneck": 128,
            "global_size": 64, "local_size": 32, "n_local": 4,
            "global_scale": [0.4, 1.0], "local_scale": [0.1, 0.4],
            "batch": 64, "steps": 6000, "lr": 8e-3, "warmup": 100, "wd": [0.04, 0.2],
            "momentum": [0.992, 1.0], "teacher_temp": [0.01, 0.04], "student_temp": 0.1,
            "ibot_weight": 1.0, "koleo": 0.1, "mask_prob": 0.5, "mask_ratio": [0.1, 0.5], "freeze_last": 200, "clip": 3.0,
            "bf16": True, "centering": "sinkhorn",
        },
        "resvit": {"hidden_dim": 64, "num_layers": 3, "num_heads": 4, "mlp_dim": 256, "output_dim": 8},
        "decoder": {"ch": 32, "ch_mult": [1, 2, 3, 4], "num_res_blocks": 1, "attn_resolutions": [8]},
        "ae": {"batch": 32, "steps": 8000, "lr": 4e-4, "warmup": 300, "perc_weight": 0.25, "mask_ratio": 0.1,
               "clip": 1.0, "bf16": True},
        "vae": {"z_channels": 32, "embed_dim": 32, "kl_weight": 1e-6},  # f8: 64² -> 8x8 tokens x 32 channels
        "dit": {"hidden_size": 256, "depth": 7, "num_heads": 4, "mlp_ratio": 4.0, "qk_norm": True,
                "learn_sigma": True, "class_dropout_prob": 0.1, "latent": "svg",
                "batch": 64, "steps": 24000, "lr": 4e-4, "warmup": 300, "ema": 0.9995, "shift": 0.4, "clip": 1.0,
                "bf16": True, "sample_shift": 0.15, "sample_steps": 25, "cfg": 4.0},
    },
}


def _parse_value(v):
    try:
        return json.loads(v)
    except json.JSONDecodeError:
        return v


def get_preset(name, overrides=()):
    """Deep copy of PRESETS[name] with `key=value` overrides applied (dotted keys, JSON values)."""
    cfg = copy.deepcopy(PRESETS[name])
    for ov in overrides:
        k, v = ov.split("=", 1)
        d = cfg
        parts = k.split(".")
        for p in parts[:-1]:
            d = d[p]
        if parts[-1] not in d:
            raise KeyError(f"--set {k}: unknown key (known: {sorted(d)})")
        d[parts[-1]] = _parse_value(v)
    return cfg


# ------------------------------------------------------------------------------------------------------------------
# Module configs in the reference-twin (= official) argument names
# ------------------------------------------------------------------------------------------------------------------

def dino_cfg(cfg):
    d = cfg["dino"]
    return {"patch_size": d["patch_size"], "embed_dim": d["embed_dim"], "depth": d["depth"],
            "num_heads": d["num_heads"], "ffn_ratio": d["ffn_ratio"], "n_storage_tokens": d["n_storage_tokens"]}


def vit_cfg(cfg):
    r = cfg["resvit"]
    return {"image_size": cfg["data"]["image_size"], "patch_size": cfg["dino"]["patch_size"],
            "num_layers": r["num_layers"], "num_heads": r["num_heads"], "hidden_dim": r["hidden_dim"],
            "mlp_dim": r["mlp_dim"], "output_dim": r["output_dim"]}


def vae_latent(cfg):
    """True when the DiT samples the VAE twin's latent (dit.latent = "vae", train_dit.py --latent vae)."""
    return cfg["dit"].get("latent", "svg") == "vae"


def latent_channels(cfg):
    if vae_latent(cfg):
        return cfg["vae"]["embed_dim"]
    return cfg["dino"]["embed_dim"] + cfg["resvit"]["output_dim"]


def latent_grid(cfg):
    if vae_latent(cfg):
        return cfg["data"]["image_size"] // 2 ** (len(cfg["decoder"]["ch_mult"]) - 1)
    return cfg["data"]["image_size"] // cfg["dino"]["patch_size"]


def vae_ddconfig(cfg):
    """The VAE twin's LDM ddconfig: the SVG decoder's sizes for encoder and decoder alike (LDM shares one)."""
    d, v = cfg["decoder"], cfg["vae"]
    return {"double_z": True, "z_channels": v["z_channels"], "resolution": cfg["data"]["image_size"],
            "in_channels": 3, "out_ch": 3, "ch": d["ch"], "ch_mult": list(d["ch_mult"]),
            "num_res_blocks": d["num_res_blocks"], "attn_resolutions": list(d["attn_resolutions"])}


def dec_cfg(cfg):
    d = cfg["decoder"]
    return {"z_channels": cfg["dino"]["embed_dim"] + cfg["resvit"]["output_dim"], "ch": d["ch"], "out_ch": 3,
            "ch_mult": list(d["ch_mult"]),
            "num_res_blocks": d["num_res_blocks"], "attn_resolutions": list(d["attn_resolutions"]),
            "resolution": cfg["data"]["image_size"]}


def dit_cfg(cfg):
    d = cfg["dit"]
    return {"in_channels": latent_channels(cfg), "hidden_size": d["hidden_size"], "depth": d["depth"],
            "num_heads": d["num_heads"], "mlp_ratio": d["mlp_ratio"], "class_dropout_prob": d["class_dropout_prob"],
            "num_classes": cfg["data"]["num_classes"], "learn_sigma": d["learn_sigma"], "qk_norm": d["qk_norm"],
            "num_patches": latent_grid(cfg) ** 2}
