"""Write the OFFICIAL checkpoint key lists at full SVG size (developer tool) into model/convert/testdata/.

    /usr/bin/python3 tools/reference/official_keys.py \
        --svg-git SVG.git --dinov3-git dinov3.git \
        --taming-git taming-transformers.git

Each file lists one checkpoint's state dict as the official code builds it, one tensor a line:
`key [d0,d1,...] dtype` (PyTorch order), after `#` header lines naming the script, the official commits, the
object built and how the checkpoint wraps the state dict. model/convert's TestOfficialKeys reads them.

  official_svgxl_dit.txt        models_SVG.DiT(**config/example_svg_xl.yaml model.params), depth 28, as
                                train_svg.py builds it (it saves {"ema": ema.state_dict()}, ema = deepcopy(model))
  official_svg_autoencoder.txt  ldm.models.dino_decoder.DinoDecoder(**example_svg_autoencoder_vitsp.yaml
                                model.params) with is_train=True (the yaml's default, as main_svg_autoencoder.py
                                trains it), i.e. with the loss module the Lightning checkpoint's "state_dict" holds
  official_dinov3_vits16plus.txt  dinov3.hub.backbones.dinov3_vits16plus(pretrained=False): the hub loads the
                                published .pth into it with strict=True, so the .pth holds exactly these keys

Only shapes are recorded; nothing is downloaded. What has to be stubbed on this machine (torch 1.13, no network):
verify_official.install_stubs (timm Mlp, einops, pytorch_lightning.LightningModule = nn.Module, tqdm, ...);
DinoDecoder's torch.hub.load(<dinov3 dir>, "dinov3_vits16plus", weights=<.pth>) builds
dinov3_vits16plus(pretrained=False) from the exported dinov3 sources instead of reading the .pth; the loss
module's LPIPS (taming-transformers at the commit SVG pins as its autoencoder/taming-transformers submodule) gets
torchvision's vgg16 without downloaded weights and skips load_from_pretrained (both change values, not keys).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import types

import torch
import torch.nn as nn
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from verify_official import export, install_stubs  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "model", "convert", "testdata")


def head(git_dir):
    return subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def dtype_name(t):
    return {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL"}[t.dtype]


def write(path, header, sd):
    with open(path, "w") as f:
        for line in header:
            f.write(f"# {line}\n")
        f.write(f"# {len(sd)} tensors: key [shape] dtype\n")
        for k, v in sd.items():
            f.write(f"{k} [{','.join(str(d) for d in v.shape)}] {dtype_name(v)}\n")
    print(f"wrote {os.path.relpath(path)}: {len(sd)} tensors, {os.path.getsize(path)} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svg-git", required=True, help="bare git dir of a clone of github.com/shiml20/SVG")
    ap.add_argument("--dinov3-git", required=True, help="bare git dir of a clone of github.com/facebookresearch/dinov3")
    ap.add_argument("--taming-git", required=True, help="bare git dir of a clone of github.com/CompVis/taming-transformers")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    commits = {"shiml20/SVG": head(args.svg_git), "facebookresearch/dinov3": head(args.dinov3_git),
               "CompVis/taming-transformers": head(args.taming_git)}
    pinned = subprocess.run(["git", "--git-dir", args.svg_git, "ls-tree", "HEAD", "autoencoder/taming-transformers"],
                            check=True, capture_output=True, text=True).stdout.split()
    if len(pinned) >= 3 and pinned[2] != commits["CompVis/taming-transformers"]:
        print(f"warning: SVG pins taming-transformers {pinned[2]}, the clone is at {commits['CompVis/taming-transformers']}")
    src = ["produced by /usr/bin/python3 tools/reference/official_keys.py from the official code at these commits",
           "(git rev-parse HEAD of each clone):",
           *(f"  {r} {c}" for r, c in commits.items())]

    tmp = tempfile.mkdtemp(prefix="svg_official_keys_")
    export(args.svg_git, os.path.join(tmp, "svg"), "models", "config", "autoencoder/ldm", "autoencoder/configs")
    export(args.dinov3_git, os.path.join(tmp, "dinov3"), "dinov3")
    export(args.taming_git, os.path.join(tmp, "taming"), "taming")
    install_stubs()
    sys.path[:0] = [os.path.join(tmp, "svg"), os.path.join(tmp, "svg", "autoencoder"), os.path.join(tmp, "dinov3"),
                    os.path.join(tmp, "taming")]
    os.makedirs(args.out, exist_ok=True)

    # ---------------- DiT, as train_svg.py builds it from config/example_svg_xl.yaml ----------------
    cfg = yaml.safe_load(open(os.path.join(tmp, "svg", "config", "example_svg_xl.yaml")))["model"]
    assert cfg["target"] == "models.models_SVG.DiT", cfg["target"]
    from models.models_SVG import DiT
    params = dict(cfg["params"])
    dit = DiT(**params)
    sd = dit.state_dict()
    write(os.path.join(args.out, "official_svgxl_dit.txt"), src + [
        f"object: models.models_SVG.DiT(**{params}) (config/example_svg_xl.yaml; learn_sigma={dit.learn_sigma})",
        'checkpoint: train_svg.py torch.save({"ema": ema.state_dict()}), ema = deepcopy(model): these keys under "ema"',
    ], sd)
    del dit, sd

    # ---------------- DINOv3 ViT-S/16+ ----------------
    from dinov3.hub.backbones import dinov3_vits16plus
    sd = dinov3_vits16plus(pretrained=False).state_dict()
    write(os.path.join(args.out, "official_dinov3_vits16plus.txt"), src + [
        "object: dinov3.hub.backbones.dinov3_vits16plus(pretrained=False)",
        "checkpoint: dinov3_vits16plus_pretrain_lvd1689m-*.pth, the hub loads it with strict=True: these keys at the top",
    ], sd)

    # ---------------- autoencoder (Lightning DinoDecoder) ----------------
    acfg = yaml.safe_load(open(os.path.join(tmp, "svg", "autoencoder", "configs",
                                            "example_svg_autoencoder_vitsp.yaml")))["model"]
    assert acfg["target"] == "ldm.models.dino_decoder.DinoDecoder", acfg["target"]
    aparams = acfg["params"]
    real_hub_load = torch.hub.load

    def hub_load(repo_or_dir, model, *a, **kw):
        assert model == aparams["dinoconfig"]["model_name"] == "dinov3_vits16plus", model
        return dinov3_vits16plus(pretrained=False)

    import taming.modules.losses.lpips as lpips
    import torchvision
    lpips.models = types.SimpleNamespace(vgg16=lambda pretrained=True: torchvision.models.vgg16(weights=None))
    lpips.LPIPS.load_from_pretrained = lambda self, name="vgg_lpips": None
    torch.hub.load = hub_load
    try:
        from ldm.models.dino_decoder import DinoDecoder
        ae = DinoDecoder(**aparams)
    finally:
        torch.hub.load = real_hub_load
    sd = ae.state_dict()
    counts = {}
    for k in sd:
        counts[k.split(".")[0]] = counts.get(k.split(".")[0], 0) + 1
    write(os.path.join(args.out, "official_svg_autoencoder.txt"), src + [
        "object: ldm.models.dino_decoder.DinoDecoder(**model.params of autoencoder/configs/"
        "example_svg_autoencoder_vitsp.yaml), is_train=True (default)",
        'checkpoint: Lightning {"state_dict": these keys, "epoch", "global_step", "optimizer_states", ...}',
        "groups: " + ", ".join(f"{k} {n}" for k, n in counts.items()),
    ], sd)


if __name__ == "__main__":
    main()
