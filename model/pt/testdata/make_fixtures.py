"""Writes the PyTorch checkpoint fixtures of model/pt and their expected values.

Run from the repository root with Debian's torch (python3-torch; see tools/reference/README.md):
    /usr/bin/python3 model/pt/testdata/make_fixtures.py

Each NAME.pt gets a NAME.json beside it: {"tensors": {key: {"dtype", "shape",
"values"}}, "other": [non-tensor keys]}, with keys flattened exactly as
pt.Load flattens them and values read back with plain Python (tolist), so the
Go test checks against torch itself rather than against its own decoder.
"""
import argparse
import collections
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def flatten(obj, prefix, tensors, other):
    """Mirrors pt.Load: dicts and lists nest with dots, the rest are leaves."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}{k}.", tensors, other)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}{i}.", tensors, other)
    elif isinstance(obj, torch.Tensor):
        t = obj.detach()
        vals = t.reshape(-1).tolist() if t.dtype != torch.bfloat16 else t.float().reshape(-1).tolist()
        tensors[prefix[:-1]] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "values": [float(v) for v in vals]}
    else:
        other.append(prefix[:-1])


def save(name, obj, **kw):
    torch.save(obj, os.path.join(HERE, name + ".pt"), **kw)
    tensors, other = {}, []
    flatten(obj, "", tensors, other)
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump({"tensors": tensors, "other": sorted(other)}, f, indent=0, sort_keys=True)


def small(*shape):
    # Values on a 1/8 grid: exact in every float dtype, short in JSON.
    return torch.randint(-16, 16, shape).float() / 8


def main():
    torch.manual_seed(0)

    # A module's state_dict: an OrderedDict carrying a _metadata attribute.
    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(small(3, 4))
        lin.bias.copy_(small(3))
    save("plain", lin.state_dict())

    # A Lightning-style checkpoint with scalars, strings and None.
    save("nested", {
        "state_dict": collections.OrderedDict([
            ("encoder.blocks.0.w", small(2, 3)),
            ("decoder.conv_in.weight", small(2, 1, 3, 3)),
        ]),
        "epoch": 3, "global_step": 1200, "lr": 1e-4, "name": "svg", "none": None, "flag": True,
    })

    # A DiT-style checkpoint: model, ema, optimizer state and an argparse Namespace.
    opt = torch.optim.Adam(lin.parameters(), lr=1e-3)
    lin(torch.ones(1, 4)).sum().backward()
    opt.step()
    save("model_ema", {
        "model": lin.state_dict(),
        "ema": {"weight": small(3, 4), "bias": small(3)},
        "opt": opt.state_dict(),
        "args": argparse.Namespace(model="SVG-XL/1", image_size=256),
    })

    # Every dtype the loader converts.
    base = small(5)
    save("dtypes", {
        "f32": base, "f16": base.half(), "bf16": base.bfloat16(), "f64": base.double(),
        "i64": torch.tensor([-3, 0, 7, 1 << 20]), "i32": torch.tensor([-5, 9], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16), "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
        "num_batches_tracked": torch.tensor(12),
    })

    # Views: strides, storage offsets, shared storages, broadcasts, 0-d, empty.
    x = small(3, 5)
    big = small(20)
    m = small(4, 6)
    save("views", {
        "t": x.t(),                      # strides (1, 5)
        "slice": big[2:9],               # offset 2 into a 20-element storage
        "slice2": big[10:13],            # same storage, saved once
        "row": m[1],                     # offset 6
        "col": m[:, 1],                  # offset 1, stride 6
        "block": m[1:3, 2:5].t(),        # offset 8, strides (1, 6)
        "half_t": x.half().t(),
        "bcast": torch.arange(3.0).expand(2, 3),  # stride 0
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    })

    # The pre-1.6 format, which pt.Load refuses with a clear error.
    torch.save({"w": small(2)}, os.path.join(HERE, "legacy.pt"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
