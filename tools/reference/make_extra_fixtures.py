"""Fixtures added after the golden set of make_fixtures.py, kept apart so that set stays bit-identical
(run from the repository root after make_fixtures.py, ~2 s on 1 CPU core):

    /usr/bin/python3 tools/reference/make_extra_fixtures.py            # writes model/testdata/*
    /usr/bin/python3 tools/reference/make_extra_fixtures.py --out DIR  # elsewhere

Files (about 100 KB in all):
  dit_wrap_top.pt          a small DiT's state_dict saved at the top level (an OrderedDict at the pickle root)
  dit_wrap_model.pt        the same under {"model": ...}
  dit_wrap_module.pt       the same as nn.DataParallel saves it: every key prefixed "module."
  dit_wrap.safetensors     the same tensors through st.py: the converter's expected dit.* values
  ae_tiny_int8conv.safetensors
                           decoded = the decoder of ae_tiny.ckpt with every conv weight quantized to int8 as
                           novae convert -quant-convs does (one scale per output channel, max|w|/127 in float32,
                           round half away from zero, clamp to ±127) and dequantized, on the latent of
                           ae_tiny_io.safetensors; decoded_f32 = the same decoder unquantized.
  ae_tiny_cls.safetensors  cls = the final-normed class token (x_norm_clstoken) of ae_tiny.ckpt's DINO on the image
                           of ae_tiny_io.safetensors (what novae eval's class-token probe reads)
The small DiT (hidden 8, 2 heads, depth 1) matches the decoder of ae_tiny.ckpt (72 channels, 4×4 grid), so each
wrapper converts into a complete model with it.
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as MF  # noqa: E402
import st  # noqa: E402
import svg_modules as S  # noqa: E402

SEED = 20251118
REGEN = "/usr/bin/python3 tools/reference/make_extra_fixtures.py"
WRAP_CFG = dict(in_channels=72, hidden_size=8, depth=1, num_heads=2, mlp_ratio=4.0, class_dropout_prob=0.1,
                num_classes=10, learn_sigma=True, qk_norm=True, num_patches=16)


def quantize_int8_rows(w):
    """novae's int8 per-row quantization (model/weights/doc.go), dequantized back to float32."""
    r = w.reshape(w.shape[0], -1)
    scale = r.abs().amax(dim=1, keepdim=True) / torch.tensor(127.0)
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    x = r / safe
    q = torch.clamp(torch.sign(x) * torch.floor(x.abs() + 0.5), -127, 127)
    return (q * scale).reshape(w.shape)


def wrappers(out, g, files):
    dit = MF.randomize_(S.DiT(**WRAP_CFG), g, keep=("pos_embed",)).eval()
    sd = dit.state_dict()
    torch.save(sd, os.path.join(out, "dit_wrap_top.pt"))
    torch.save({"model": sd}, os.path.join(out, "dit_wrap_model.pt"))
    dp = nn.DataParallel(dit).state_dict()  # the real "module." prefix, no GPU needed
    assert all(k.startswith("module.") for k in dp), list(dp)[:3]
    torch.save(dp, os.path.join(out, "dit_wrap_module.pt"))
    st.save(os.path.join(out, "dit_wrap.safetensors"), OrderedDict(sd),
            {"description": "the state_dict of dit_wrap_*.pt", "regenerate": REGEN,
             "config": json.dumps(WRAP_CFG, sort_keys=True)})
    files += ["dit_wrap_top.pt", "dit_wrap_model.pt", "dit_wrap_module.pt", "dit_wrap.safetensors"]


def tiny_autoencoder(out):
    """ae_tiny_io.safetensors' tensors and ae_tiny.ckpt in the twin autoencoder."""
    io, m = st.load(os.path.join(out, "ae_tiny_io.safetensors"))
    cfg = json.loads(m["config"])
    ae = S.SVGAutoencoder(cfg["dino"], cfg["residual_vit"], cfg["decoder"], **cfg["autoencoder"]).eval()
    sd = torch.load(os.path.join(out, "ae_tiny.ckpt"), map_location="cpu")["state_dict"]
    ae.load_state_dict({k: v for k, v in sd.items() if not k.startswith("loss.")}, strict=True)
    return io, ae


def int8_decoder(out, files):
    io, ae = tiny_autoencoder(out)
    z = S.tokens_to_map(torch.from_numpy(io["latent"]))
    ref = ae.decode(z)
    n = 0
    for mod in ae.decoder.modules():
        if isinstance(mod, nn.Conv2d):
            mod.weight.copy_(quantize_int8_rows(mod.weight))
            n += 1
    got = ae.decode(z)
    err = ((got - ref).abs().max() / ref.abs().max()).item()
    st.save(os.path.join(out, "ae_tiny_int8conv.safetensors"), OrderedDict(decoded=got, decoded_f32=ref),
            {"description": f"decoder of ae_tiny.ckpt with its {n} conv weights int8 per output channel "
                            "(dequantized), on the latent of ae_tiny_io.safetensors; decoded_f32 unquantized. "
                            f"max |decoded - decoded_f32| = {err:.4g} of scale",
             "regenerate": REGEN})
    files.append("ae_tiny_int8conv.safetensors")
    print(f"decoder, {n} int8 convs: {err:.4g} of the f32 output's scale")


def class_token(out, files):
    io, ae = tiny_autoencoder(out)
    f = ae.encoder.forward_features(torch.from_numpy(io["image"]))
    err = (f["x_norm_patchtokens"] - torch.from_numpy(io["dino"])).abs().max().item()
    assert err < 1e-5, f"the DINO of ae_tiny.ckpt no longer gives ae_tiny_io's patch tokens ({err})"
    st.save(os.path.join(out, "ae_tiny_cls.safetensors"), OrderedDict(cls=f["x_norm_clstoken"].contiguous()),
            {"description": "x_norm_clstoken of ae_tiny.ckpt's DINO on the image of ae_tiny_io.safetensors",
             "regenerate": REGEN})
    files.append("ae_tiny_cls.safetensors")


def check(out):
    """Every wrapper holds exactly the safetensors copy's tensors."""
    ref, _ = st.load(os.path.join(out, "dit_wrap.safetensors"))
    for name, strip in (("dit_wrap_top.pt", ""), ("dit_wrap_model.pt", ""), ("dit_wrap_module.pt", "module.")):
        ck = torch.load(os.path.join(out, name), map_location="cpu")
        sd = ck["model"] if "model" in ck else ck
        got = {k[len(strip):]: v for k, v in sd.items()}
        assert set(got) == set(ref), name
        for k, v in got.items():
            assert torch.equal(v, torch.from_numpy(ref[k])), f"{name}: {k}"
    print("check: every wrapper matches dit_wrap.safetensors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "model", "testdata"))
    out = os.path.abspath(ap.parse_args().out)
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    files = []
    wrappers(out, g, files)
    int8_decoder(out, files)
    class_token(out, files)
    total = 0
    for f in files:
        size = os.path.getsize(os.path.join(out, f))
        total += size
        print(f"{f:30s} {size:8d} bytes")
    print(f"total {total} bytes")
    assert total < 200_000, "extra fixtures exceed their 200 KB budget"
    check(out)


if __name__ == "__main__":
    main()
