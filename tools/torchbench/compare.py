"""Ratios novae/PyTorch from one run of tools/bench (-json) and tools/torchbench/bench.py (--json).

    python3 tools/torchbench/compare.py NOVAE.json TORCH.json [BASELINE.json]

BASELINE is an optional second novae run (gpu.sh: `novae-bench -kernel matmul,tune`, the reference matmul and the
tuned plans) shown beside the default one, one column per variant. A ratio below 1 means novae is faster. Only lines present in both files are compared.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def novae_key(r):
    # shape "svg-xl B=2 T=256 f32w" / "svg-xl B=1 16²→256²" / "svg-xl B=1 CFG 4 steps"
    parts = r["shape"].split()
    w = parts[-1] if parts[-1] in ("f32w", "f16w") else "f32w"
    return r["kernel"], parts[0], w


def same_flop(a, b):
    """Both lines count the same FLOP (to 1e-6): they time the same network."""
    fa, fb = a.get("flop") or 0, b.get("flop") or 0
    return fa > 0 and abs(fa - fb) <= 1e-6 * fa


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    nv, tv = load(sys.argv[1]), load(sys.argv[2])
    base = load(sys.argv[3]) if len(sys.argv) > 3 else None

    def index(rep, variant):
        out = {}
        for r in rep["results"]:
            if r.get("error") or not r.get("ms"):
                continue
            if (r.get("variant") or "auto") != variant:
                continue
            out.setdefault(novae_key(r), r)
        return out

    nov = index(nv, "auto")
    bvars = sorted({r.get("variant") or "auto" for r in base["results"]}) if base else []
    bas = {v: index(base, v) for v in bvars}
    tor = {}
    for r in tv["results"]:
        if not r.get("error") and r.get("ms"):
            tor[(r["kernel"], r["model"], r["precision"])] = r
    precs = [p for p in ("fp32", "tf32", "bf16", "bf16w") if any(k[2] == p for k in tor)]

    print(f"novae   {nv.get('adapter', '?')} ({nv.get('backend', '?')}), {nv.get('method', '')}")
    print(f"pytorch {tv.get('device', '?')}, torch {tv.get('torch', '?')}, {tv.get('method', '')}")
    if base:
        print(f"base    novae with -kernel {','.join(bvars)} (columns 'v=NAME ms')")
    print("ratio = novae ms / pytorch ms (same GPU, same run; < 1: novae faster)")
    print()
    head = f"{'line':34} {'novae ms':>9}"
    for v in bvars:
        head += f" {'v=' + v + ' ms':>12}"
    for p in precs:
        head += f" {'torch ' + p:>12} {'ratio':>6}"
    print(head)
    order = ["dit_cfg_step", "decoder", "sample_4", "sample_25"]
    keys = sorted(nov, key=lambda k: (k[1] != "svg-xl", k[1], order.index(k[0]) if k[0] in order else 9, k[2]))
    mismatch = []
    for k in keys:
        kernel, model, w = k
        if not any((kernel, model, p) in tor for p in precs):
            continue
        r = nov[k]
        label = f"{kernel} {model}" + (f" ({w})" if kernel == "dit_cfg_step" else "")
        line = f"{label:34} {r['ms']:9.3f}"
        for v in bvars:
            b = bas[v].get(k)
            line += f" {b['ms']:12.3f}" if b else f" {'-':>12}"
        for p in precs:
            t = tor.get((kernel, model, p))
            if not t:
                line += f" {'-':>12} {'-':>6}"
            elif not same_flop(r, t):  # different networks: a ratio would compare nothing
                line += f" {t['ms']:12.3f} {'FLOP≠':>6}"
                mismatch.append(f"{label}: novae counts {r.get('flop', 0):.6g} FLOP, torchbench {t.get('flop', 0):.6g}")
            else:
                line += f" {t['ms']:12.3f} {r['ms'] / t['ms']:6.2f}"
        print(line)
    for m in sorted(set(mismatch)):
        print("NO RATIO (the two sides time different networks: FLOP counts differ):", m)
    print()
    print("targets: dit_cfg_step svg-xl (f16w and f32w, three runs within 10%), decoder svg-xl and sample_4 svg-xl"
          " <= 1.0 x torch fp32; small models <= 0.5 x torch fp32 at one submit per step")
    for k in keys:
        kernel, model, w = k
        r = nov[k]
        if kernel == "sample_4" and model != "svg-xl":
            steps = 4
            print(f"  {model}: sample_4 + decode {r['ms']:.3f} ms = {r['ms'] / steps:.3f} ms per step (decode included), "
                  f"{r.get('dispatches_per_step', 0):.0f} dispatches per step")
    if mismatch:
        sys.exit(1)


if __name__ == "__main__":
    main()
