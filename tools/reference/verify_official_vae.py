"""Cross-check vae_modules.py against the OFFICIAL latent-diffusion code (developer tool; not needed to regenerate
fixtures).

    /usr/bin/python3 tools/reference/verify_official_vae.py --ldm-git latent-diffusion.git

latent-diffusion.git is a bare clone of github.com/CompVis/latent-diffusion (`git clone --bare URL`). Its
ldm/modules/diffusionmodules/model.py (Encoder, Decoder, Normalize) and ldm/modules/distributions/distributions.py
are exported to a temporary directory (never into this tree) and imported with stubs for what is not installed
(einops, ldm.util, ldm.modules.attention's LinearAttention: the vanilla attention the autoencoder uses needs
none of them). Then, for the real SD-VAE ddconfig (configs/autoencoder/autoencoder_kl_32x32x4.yaml: key sets and
shapes only) and a reduced one (numerics):
  1. AutoencoderKL's parts built from the official classes as ldm/models/autoencoder.py builds them
     (encoder, decoder, quant_conv, post_quant_conv) vs the twin: state_dict keys and shapes equal;
  2. the official weights, randomised, loaded into the twin with strict=True: encoder moments, posterior
     mean / KL and decoded images equal;
  3. the Go fixture (make_vae_fixtures.py, GroupNorm 4 groups: official Normalize patched to 4) recomputed with
     the official modules: equal to the stored outputs.
Prints "ALL CHECKS PASSED". With --keys-out FILE it also writes the official SD-VAE key list (the format of
model/convert/testdata/official_*.txt; TestOfficialKeysVAE checks novae's VAE parameters against it):

    /usr/bin/python3 tools/reference/verify_official_vae.py --ldm-git latent-diffusion.git \
        --keys-out model/convert/testdata/official_sd_vae_kl_f8.txt
"""
import subprocess
import argparse
import json
import os
import sys
import tempfile
import types

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402
import vae_modules as V  # noqa: E402
from make_fixtures import randomize_  # noqa: E402
from verify_official import check_keys, close, export  # noqa: E402

SD_DDCONFIG = dict(double_z=True, z_channels=4, resolution=256, in_channels=3, out_ch=3, ch=128, ch_mult=[1, 2, 4, 4],
                   num_res_blocks=2, attn_resolutions=[], dropout=0.0)
SMALL = dict(double_z=True, z_channels=6, resolution=16, in_channels=3, out_ch=3, ch=32, ch_mult=[1, 2, 1],
             num_res_blocks=2, attn_resolutions=[8], dropout=0.0)


class Official(nn.Module):
    """ldm/models/autoencoder.py AutoencoderKL's modules (its Lightning and loss parts left out)."""

    def __init__(self, E, D, dd, embed_dim):
        super().__init__()
        self.encoder = E(**dd)
        self.decoder = D(**dd)
        self.quant_conv = nn.Conv2d(2 * dd["z_channels"], 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, dd["z_channels"], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ldm-git", required=True, help="bare git dir of a clone of github.com/CompVis/latent-diffusion")
    ap.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "model", "testdata"))
    ap.add_argument("--keys-out", default="", help="write the SD-VAE AutoencoderKL key list (key [shape] dtype) here")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)

    tmp = tempfile.mkdtemp(prefix="ldm_official_")
    export(args.ldm_git, tmp, "ldm/modules/diffusionmodules/model.py", "ldm/modules/distributions/distributions.py")
    for d in ("ldm", "ldm/modules", "ldm/modules/diffusionmodules", "ldm/modules/distributions"):
        open(os.path.join(tmp, d, "__init__.py"), "a").close()
    for name, attrs in (("einops", {"rearrange": None}), ("ldm.util", {"instantiate_from_config": None}),
                        ("ldm.modules.attention", {"LinearAttention": nn.Module})):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
    sys.path.insert(0, tmp)
    import ldm.modules.diffusionmodules.model as OM
    from ldm.modules.distributions.distributions import DiagonalGaussianDistribution

    # 1. key sets at the real SD-VAE size
    off = Official(OM.Encoder, OM.Decoder, SD_DDCONFIG, 4)
    tw = V.AutoencoderKL(SD_DDCONFIG, 4)
    keys = check_keys("AutoencoderKL, SD-VAE ddconfig (autoencoder_kl_32x32x4.yaml)", off.state_dict(), tw.state_dict())
    print(f"    {len(keys)} keys, e.g. {keys[:3]}")
    if args.keys_out:
        rev = subprocess.run(["git", "--git-dir", args.ldm_git, "rev-parse", "HEAD"], check=True, capture_output=True,
                             text=True).stdout.strip()
        sd = off.state_dict()
        with open(args.keys_out, "w") as fh:
            fh.write("# produced by /usr/bin/python3 tools/reference/verify_official_vae.py from the official code at\n")
            fh.write(f"#   CompVis/latent-diffusion {rev}\n")
            fh.write("# object: ldm.models.autoencoder.AutoencoderKL(ddconfig, embed_dim=4) of\n")
            fh.write("#   configs/autoencoder/autoencoder_kl_32x32x4.yaml (the SD-VAE sizes), without its loss (loss.*)\n")
            fh.write("# checkpoint: Lightning {\"state_dict\": these keys + loss.*, ...}\n")
            fh.write(f"# {len(sd)} tensors: key [shape] dtype\n")
            for k, v in sd.items():
                fh.write(f"{k} [{','.join(str(d) for d in v.shape)}] F32\n")
        print(f"    wrote {args.keys_out}")

    # 2. numerics at a reduced size
    off = randomize_(Official(OM.Encoder, OM.Decoder, SMALL, 5), g).eval()
    tw = V.AutoencoderKL(SMALL, 5).eval()
    check_keys("AutoencoderKL, reduced ddconfig", off.state_dict(), tw.state_dict())
    tw.load_state_dict(off.state_dict(), strict=True)
    x = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    m_off = off.quant_conv(off.encoder(x))
    post_off = DiagonalGaussianDistribution(m_off)
    post_tw = tw.encode(x)
    close("moments (encoder + quant_conv)", torch.cat([post_tw.mean, post_tw.logvar], 1), m_off)
    close("posterior mode", post_tw.mode(), post_off.mode())
    close("KL", post_tw.kl(), post_off.kl(), tol=1e-5)
    close("decode(mode)", tw.decode(post_tw.mode()), off.decoder(off.post_quant_conv(post_off.mode())))

    # 3. the Go fixture with the official modules (Normalize at 4 groups)
    io, meta = st.load(os.path.join(args.fixtures, "vae_tiny_io.safetensors"))
    cfg = json.loads(meta["config"])
    norm = OM.Normalize
    OM.Normalize = lambda c, num_groups=32: norm(c, num_groups=cfg["groups"])
    off = Official(OM.Encoder, OM.Decoder, dict(cfg["ddconfig"], dropout=0.0), cfg["embed_dim"]).eval()
    OM.Normalize = norm
    sd = torch.load(os.path.join(args.fixtures, "vae_tiny.ckpt"), map_location="cpu")["state_dict"]
    off.load_state_dict({k: v for k, v in sd.items() if not k.startswith("loss.")}, strict=True)
    t = torch.from_numpy
    mom = off.quant_conv(off.encoder(t(io["image"])))
    close("fixture moments", mom, t(io["moments"]))
    mean = DiagonalGaussianDistribution(mom).mode()
    close("fixture decoded", off.decoder(off.post_quant_conv(mean)), t(io["decoded"]))
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    main()
