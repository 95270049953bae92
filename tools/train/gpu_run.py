"""Run one training phase script with the GPU fast paths switched on, without changing the script.

  python3 tools/train/gpu_run.py tools/train/train_dit.py --preset emoji --batch 1024 ...

What it changes (each only where the running torch has it; Debian's torch 1.13 on the CPU keeps working):
  - AdamW: `fused=True` on CUDA with torch >= 2 (one kernel for the whole update), else `foreach=True`
    (multi-tensor kernels; also on the CPU).
  - EMA / teacher momentum (common.ema_update): one `torch._foreach_mul_` + `torch._foreach_add_` over all
    parameters instead of a Python loop of two kernels per tensor.
  - Images resident on the GPU: common.load_split moves the uint8 image tensors to the GPU once (183 MB for the
    emoji set), so a batch is an index on the device instead of a host gather + copy per step. Labels stay on the
    host (the scripts index them with host indices).
  - The DiT latent cache is read into memory once instead of memory-mapped (no page faults in the per-step gather).
  - torch.compile of the DiT's forward, opt-in (NOVAE_COMPILE=1, CUDA with torch >= 2.1): the forward is compiled
    at the class level, so the EMA copy and the checkpoint keys are unchanged; torch._dynamo.config.suppress_errors
    makes a graph that fails to compile run eagerly instead of failing. Off by default: --fit-minutes sizes a phase
    from its first 40 steps, which would include the compilation and so give a far too short phase.
  - cuDNN autotuning (fixed shapes) and TF32 matmuls.
The script then runs as `__main__` with the remaining arguments.
"""
import os
import runpy
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "reference"))
sys.path.insert(0, HERE)

import common as C  # noqa: E402
import models as M  # noqa: E402

TORCH = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
CUDA = torch.cuda.is_available() and os.environ.get("NOVAE_DEVICE", "auto") != "cpu"


def log(*a):
    if int(os.environ.get("RANK", "0")) == 0:
        print("[gpu_run]", *a, flush=True)


# -- optimiser ------------------------------------------------------------------------------------------------------
_AdamW = torch.optim.AdamW


def fast_adamw(params, *a, **k):
    params = list(params)
    if CUDA and TORCH >= (2, 0):
        try:
            return _AdamW(params, *a, fused=True, **k)
        except (RuntimeError, ValueError, TypeError) as e:  # torch < 2.4 wants the params on CUDA already
            log(f"fused AdamW unavailable ({e}); foreach")
    return _AdamW(params, *a, foreach=True, **k)


# -- EMA ------------------------------------------------------------------------------------------------------------
_ema_pairs = {}


@torch.no_grad()
def foreach_ema_update(ema, model, decay):
    key = (id(ema), id(model))
    if key not in _ema_pairs:
        mp = dict(model.named_parameters())
        names = [n for n, _ in ema.named_parameters()]
        mb = dict(model.named_buffers())
        _ema_pairs[key] = ([p for _, p in ema.named_parameters()], [mp[n] for n in names],
                           [(b, mb[n]) for n, b in ema.named_buffers()])
    e, m, bufs = _ema_pairs[key]
    torch._foreach_mul_(e, decay)
    torch._foreach_add_(e, m, alpha=1 - decay)
    for b, src in bufs:
        b.copy_(src)


# -- data -----------------------------------------------------------------------------------------------------------
_load_split = C.load_split


def resident_load_split(data_dir, name, split):
    x, y = _load_split(data_dir, name, split)
    return x.cuda(), y


_np_load = np.load


def eager_latents(path, *a, **k):
    if k.get("mmap_mode") and str(path).endswith("latents_train.npy"):
        k = dict(k, mmap_mode=None)
    return _np_load(path, *a, **k)


# -- compile --------------------------------------------------------------------------------------------------------
_build_dit = M.build_dit


def compiled_build_dit(cfg):
    m = _build_dit(cfg)
    cls = type(m)
    if not getattr(cls, "_novae_compiled", False):
        import torch._dynamo
        torch._dynamo.config.suppress_errors = True
        sub = type(cls.__name__, (cls,), {"forward": torch.compile(cls.forward, dynamic=False),
                                          "_novae_compiled": True})
        sub.__module__ = cls.__module__
        compiled_build_dit.cls = sub
    m.__class__ = compiled_build_dit.cls
    return m


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    script = sys.argv[1]
    torch.optim.AdamW = fast_adamw
    C.ema_update = foreach_ema_update
    np.load = eager_latents
    what = ["AdamW " + ("fused" if CUDA and TORCH >= (2, 0) else "foreach"), "foreach EMA", "in-memory latents"]
    if CUDA:
        C.load_split = resident_load_split
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        what.append("images on the GPU")
        want = os.environ.get("NOVAE_COMPILE", "0") == "1"
        if want and TORCH >= (2, 1) and os.path.basename(script) == "train_dit.py":
            M.build_dit = compiled_build_dit
            what.append("torch.compile(DiT.forward)")
    log(f"torch {torch.__version__}, {'CUDA ' + torch.cuda.get_device_name(0) if CUDA else 'CPU'}: "
        + ", ".join(what))
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
