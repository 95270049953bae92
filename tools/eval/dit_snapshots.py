#!/usr/bin/python3
"""A quick look at a DiT run while it trains: class accuracy of its EMA snapshots, in PyTorch.

For every snapshot (train_dit.py --snapshot-every) it samples N images (classes round-robin, seed 0; Euler, constant
CFG, shift as the shipped models' defaults), decodes them with the run's autoencoder, and judges them with the
independent classifier (tools/eval/classifier_<data>.safetensors, the judge of `novae eval`); and it measures the
DiT's noise end as twin_diag.py does (t0: RMS error of noise + v at t = 0 against the class-mean latent, over the RMS
of the class means; 0 for an exact model). fp32 PyTorch on the unquantised weights: about 20x faster than
`novae curve` on the same cores, for choosing a recipe; the figures that ship come from `novae eval` / `novae curve`
on the converted int8 model.

  /usr/bin/python3 tools/eval/dit_snapshots.py --runs runs [--kind svg|vae] [--steps 4,25] [--n 200] [--out f.json]
"""
import glob
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, os.path.join(ROOT, "tools", "eval"))
import common as C  # noqa: E402
import models as M  # noqa: E402
import st  # noqa: E402
import twin_diag as TD  # noqa: E402
from train_classifier import folded_forward  # noqa: E402


def load_classifier(path):
    """The judge as train_classifier.py exports it (BatchNorm folded): x [B,in_ch,H,W] in [0,1] -> logits."""
    w = {k: torch.as_tensor(np.asarray(v)).float() for k, v in st.load(path)[0].items()}
    n_conv = sum(1 for k in w if k.startswith("conv") and k.endswith(".weight"))
    return (lambda x: folded_forward(w, x, n_conv)[0]), w["conv0.weight"].shape[1]


@torch.no_grad()
def main():
    ap = TD.run_parser(__doc__)
    ap.add_argument("--kind", default="svg", choices=["svg", "vae"], help="the run's DiT: dit/ (svg) or dit_vae/")
    ap.add_argument("--snapshots", default="", help="comma-separated snapshot files (default: all of the run's)")
    ap.add_argument("--steps", default="4", help="sampling step counts, comma-separated")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cfg", type=float, default=6.0)
    ap.add_argument("--shift", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    L = TD.Latent(args.runs, args.preset, args.kind, torch.device("cpu"), load_dit=False)
    run_cfg = json.load(open(os.path.join(L.dit_dir, "config.json")))["cfg"]  # the DiT as trained (--set ...)
    dit = M.build_dit(run_cfg).eval()
    K = run_cfg["data"]["num_classes"]
    judge, in_ch = load_classifier(os.path.join(ROOT, "tools", "eval", f"classifier_{run_cfg['data']['name']}.safetensors"))
    _, ytr = C.load_split(args.data, run_cfg["data"]["name"], "train")
    cm = TD.class_means(*TD.train_sample(L, ytr), K)
    snaps = args.snapshots.split(",") if args.snapshots else sorted(glob.glob(os.path.join(L.dit_dir, "snapshots", "*.pt")))
    if not snaps:
        raise SystemExit(f"no snapshots in {L.dit_dir}/snapshots (train_dit.py --snapshot-every N)")
    noise = torch.randn(args.n, cm.shape[1], L.C, generator=torch.Generator().manual_seed(0))
    y = torch.arange(args.n) % K
    res = {"runs": args.runs, "kind": args.kind, "n": args.n, "cfg": args.cfg, "shift": args.shift, "points": []}
    for p in snaps:
        dit.load_state_dict({k: v.float() for k, v in torch.load(p, map_location="cpu")["ema"].items()})
        t0 = TD.t0_error(dit, L.C, cm, K)
        pt = {"snapshot": os.path.basename(p), "t0_ratio": t0["rms_error"] / t0["rms_class_mean"], "accuracy": {}}
        for s in map(int, args.steps.split(",")):
            img = (L.decode(M.sample_euler(dit, noise, y, K, s, args.cfg, args.shift)) + 1) / 2
            pt["accuracy"][str(s)] = float((judge(img[:, :in_ch]).argmax(1) == y).float().mean())
        res["points"].append(pt)
        print(json.dumps(pt), flush=True)
    if args.out:
        C.write_json(args.out, res)


if __name__ == "__main__":
    main()
