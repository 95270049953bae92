#!/usr/bin/env bash
# Train every phase of a preset (DINO -> residual ViT + decoder -> DiT, then export) on one CUDA GPU in one run of
# about MINUTES (default 8) minutes, and write what a later CPU run needs into $OUT as at most 8 files of <= 15 MiB.
# TWIN=1 also trains the VAE-latent twin (VAE -> DiT on its latent, then export --latent vae) in the same run, and
# keeps 6 EMA snapshots of each DiT for `novae curve` (the paper's comparison; digits fits the file budget).
#
#   tools/train/gpu.sh --pack [preset]        here: data/<preset>/ -> data/<preset>_gpu.npz (to take to the GPU
#                                              machine, which has no registry access; emoji: 43 MiB)
#   OUT=dir tools/train/gpu.sh [preset]       on the GPU machine (default preset emoji, MINUTES=8)
#   OUT=dir tools/train/gpu.sh --cpu-smoke [preset]
#                                              the same plumbing on the CPU: 64 images, 3 steps per phase, batch 8
#   tools/train/gpu.sh --unpack DIR [preset]  here: DIR (the returned files) -> runs/<preset>/{dino,ae,dit} and
#                                              runs/<preset>/export (export.py rerun locally)
#
# GPU settings (see tools/train/README.md): global batch DINO 512, AE 256, DiT 1024 (BATCH_DINO, BATCH_AE,
# BATCH_DIT); peak LR scaled with the square root of the batch ratio to the preset's (AdamW); each phase sized by
# --fit-minutes to its share of MINUTES (DINO 34%, AE 28%, DiT 28%; the rest is start-up, latent encoding and
# export; with TWIN=1: DINO 22%, AE 15%, DiT 19%, VAE 15%, DiT on the VAE latent 19%, the VAE and its DiT at the
# AE's and DiT's batch and LR); bf16 autocast (the scripts' default); tools/train/gpu_run.py adds fused AdamW, foreach EMA, images
# resident on the GPU (NOVAE_COMPILE=1 adds torch.compile of the DiT).
# CARRIED="dino ae vae" (any of these) restores those phases from tools/train/carry/<preset>/<phase>.pt instead of
# training them again; their shares of MINUTES go to the phases that do train, in proportion.
# With TWIN=1 the twin's DiT trains exactly as many steps as the SVG model's DiT was fitted to (the comparison
# wants them identical), not a fit of its own.
# Environment: PYTHON (default python3; here use /usr/bin/python3), OUT (required unless --pack/--unpack),
# MINUTES (8), DATA (default data/), WORK (scratch dir, default a mktemp dir), TWIN (0), CARRIED (none).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
mode=gpu
case "${1:-}" in
--pack) mode=pack; shift ;;
--unpack) mode=unpack; SRC=${2:?usage: gpu.sh --unpack DIR [preset]}; shift 2 ;;
--cpu-smoke) mode=smoke; shift ;;
-h | --help) sed -n '2,28p' "$0"; exit 0 ;;
esac
PRESET=${1:-emoji}
case "$PRESET" in digits | emoji) ;; *) echo "gpu.sh: unknown preset $PRESET (digits|emoji)" >&2; exit 2 ;; esac
TWIN=${TWIN:-0}
if [[ $TWIN == 1 && $PRESET != digits && $mode == gpu ]]; then
	# emoji's two DiTs alone are 70 MiB in float32, their snapshots 200 MiB more: past the 8 returned files
	echo "gpu.sh: TWIN=1 fits the returned files for digits only" >&2
	exit 2
fi

if [[ $mode == pack ]]; then
	"$PY" - "${DATA:-$ROOT/data}" "$PRESET" <<'EOF'
import json, os, sys
import numpy as np
data, preset = sys.argv[1:3]
d = os.path.join(data, preset)
if not os.path.exists(os.path.join(d, "meta.json")):
    raise SystemExit(f"{d}: no prepared data (make data)")
arrs = {k: np.load(os.path.join(d, k + ".npy")) for k in ("train_x", "train_y", "test_x", "test_y")}
out = os.path.join(data, f"{preset}_gpu.npz")
np.savez_compressed(out + ".tmp.npz", meta=np.frombuffer(open(os.path.join(d, "meta.json"), "rb").read(), np.uint8),
                    **arrs)
os.replace(out + ".tmp.npz", out)
print(f"gpu.sh: {out} ({os.path.getsize(out) / 2 ** 20:.1f} MiB); carry it as data/{preset}_gpu.npz")
EOF
	exit 0
fi

if [[ $mode == unpack ]]; then
	RUNS=${RUNS:-$ROOT/runs}
	mkdir -p "$RUNS/$PRESET"
	cat "$SRC"/"$PRESET"_gpu.tar.part-* | tar -x -C "$RUNS/$PRESET"
	echo "gpu.sh: unpacked into $RUNS/$PRESET: $(cd "$RUNS/$PRESET" && ls -d dino ae dit vae dit_vae 2>/dev/null | xargs)"
	"$PY" "$ROOT/tools/train/export.py" --preset "$PRESET" --runs "$RUNS" --data "${DATA:-$ROOT/data}"
	if [[ -f $RUNS/$PRESET/dit_vae/ckpt.pt ]]; then
		"$PY" "$ROOT/tools/train/export.py" --preset "$PRESET" --runs "$RUNS" --data "${DATA:-$ROOT/data}" --latent vae
	fi
	exit 0
fi

: "${OUT:?set OUT to the directory the results go to}"
mkdir -p "$OUT"
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
RUNS=$WORK/runs
LOG=$OUT/gpu.log
exec > >(tee -a "$LOG") 2>&1
t_start=$(date +%s)
echo "gpu.sh: preset $PRESET, mode $mode, work $WORK, $(date -u +%FT%TZ)"

# ---- data: data/<preset>/ if prepared here, else the packed data/<preset>_gpu.npz ----
DATA=${DATA:-$ROOT/data}
if [[ ! -f $DATA/$PRESET/train_x.npy ]]; then
	[[ -f $DATA/${PRESET}_gpu.npz ]] || { echo "gpu.sh: neither $DATA/$PRESET/ nor $DATA/${PRESET}_gpu.npz (tools/train/gpu.sh --pack $PRESET)" >&2; exit 1; }
	packed=$DATA/${PRESET}_gpu.npz
	DATA=$WORK/data
	"$PY" - "$packed" "$DATA/$PRESET" <<'EOF'
import os, sys
import numpy as np
src, d = sys.argv[1:3]
os.makedirs(d, exist_ok=True)
z = np.load(src)
for k in ("train_x", "train_y", "test_x", "test_y"):
    np.save(os.path.join(d, k + ".npy"), z[k])
open(os.path.join(d, "meta.json"), "wb").write(z["meta"].tobytes())
print(f"gpu.sh: unpacked {src}: train {len(z['train_y'])}, held-out {len(z['test_y'])}")
EOF
fi

# ---- carried phases: restored, not trained ----
declare -A carried=()
for ph in ${CARRIED:-}; do
	case "$ph" in dino | ae | vae) ;; *) echo "gpu.sh: CARRIED: $ph is not a carried phase (dino, ae, vae)" >&2; exit 2 ;; esac
	[[ $ph == vae && $TWIN != 1 ]] && { echo "gpu.sh: CARRIED=vae without TWIN=1" >&2; exit 2; }
	src=$ROOT/tools/train/carry/$PRESET/$ph.pt
	[[ -f $src ]] || { echo "gpu.sh: CARRIED: no $src (tools/train/twin.sh carries finished phases there)" >&2; exit 1; }
	mkdir -p "$RUNS/$PRESET/$ph"
	cp "$src" "$RUNS/$PRESET/$ph/ckpt.pt"
	carried[$ph]=1
	echo "gpu.sh: $ph restored from $src"
done

# ---- per-phase flags ----
snap=()
if [[ $TWIN == 1 ]]; then
	snap=(--snapshots 6)
	share=(0.22 0.15 0.19 0.15 0.19) # dino ae dit vae dit_vae
else
	share=(0.34 0.28 0.28 0 0)
fi
# the shares of carried phases go to the trained ones, in proportion (the total, 90%, stays)
names=(dino ae dit vae dit_vae)
kept=0
for i in "${!names[@]}"; do
	[[ -n ${carried[${names[$i]}]:-} ]] && share[i]=0
	kept=$(awk -v a="$kept" -v b="${share[$i]}" 'BEGIN { print a + b }')
done
for i in "${!names[@]}"; do
	share[i]=$(awk -v s="${share[$i]}" -v k="$kept" 'BEGIN { printf "%.4f", s * 0.90 / k }')
done
if [[ $mode == smoke ]]; then
	export NOVAE_DEVICE=cpu
	common=(--device cpu --threads 1 --limit 64 --steps 3 --batch 8 --log-every 1)
	dino=("${common[@]}") ae=("${common[@]}") dit=("${common[@]}" "${snap[@]}") dit_vae=("${dit[@]}") vae=("${common[@]}")
else
	MINUTES=${MINUTES:-8}
	# peak LR: preset LR at the preset batch, times sqrt(GPU batch / preset batch); each script multiplies its
	# lr by batch/divisor (dino 256, ae 64, dit 128), so pass lr = peak * divisor / batch.
	mapfile -t sets < <("$PY" - "$ROOT" "$PRESET" "${BATCH_DINO:-512}" "${BATCH_AE:-256}" "${BATCH_DIT:-1024}" <<'EOF'
import math, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tools", "train"))
import presets as P
preset, bd, ba, bt = sys.argv[2], *map(int, sys.argv[3:6])
cfg = P.get_preset(preset)
for ph, B, div in (("dino", bd, 256), ("ae", ba, 64), ("dit", bt, 128)):
    c = cfg[ph]
    peak = c["lr"] * c["batch"] / div * math.sqrt(B / c["batch"])
    print(f"{ph}.lr={peak * div / B:.6g}")
EOF
)
	((${#sets[@]} == 3)) || { echo "gpu.sh: could not compute the learning rates" >&2; exit 1; }
	fit() { awk -v m="$MINUTES" -v f="$1" 'BEGIN { printf "%.2f", m * f }'; }
	common=(--device cuda --ckpt-every 1000000 --ckpt-minutes 1000 --log-every 50)
	dino=("${common[@]}" --steps 1000000 --batch "${BATCH_DINO:-512}" --fit-minutes "$(fit "${share[0]}")" --set "${sets[0]}")
	ae=("${common[@]}" --steps 1000000 --batch "${BATCH_AE:-256}" --fit-minutes "$(fit "${share[1]}")" --set "${sets[1]}")
	vae=("${common[@]}" --steps 1000000 --batch "${BATCH_AE:-256}" --fit-minutes "$(fit "${share[3]}")" --set "${sets[1]}")
	# EMA horizon ~500 steps: a fitted DiT phase is ~1-2k steps, where the preset's 0.9995 would still hold the
	# early weights
	dit_vae=("${common[@]}" --batch "${BATCH_DIT:-1024}" --set "${sets[2]}" --set dit.ema=0.998 "${snap[@]}")
	dit=("${dit_vae[@]}" --steps 1000000 --fit-minutes "$(fit "${share[2]}")")
	echo "gpu.sh: ${MINUTES} min; ${sets[*]}; twin $TWIN; carried: ${!carried[*]}; shares ${names[*]}: ${share[*]}"
fi

# A failing phase or export is reported and the rest still runs as far as it can: whatever was trained is packed.
failed=()
run_phase() {
	local ph=$1 script=$2
	shift 2
	local t0
	t0=$(date +%s)
	if ! "$PY" "$ROOT/tools/train/gpu_run.py" "$ROOT/tools/train/$script" --preset "$PRESET" --data "$DATA" \
		--runs "$RUNS" --fresh "$@" 2>&1 | tee "$WORK/$ph.log"; then
		failed+=("$ph")
	fi
	echo "gpu.sh: phase $ph took $(($(date +%s) - t0)) s${failed[*]:+ (failed so far: ${failed[*]})}"
}
cd "$ROOT"
"$PY" -c 'import sys, numpy, torch, PIL; print("gpu.sh: python", sys.version.split()[0], "torch", torch.__version__,
"cuda", torch.cuda.is_available(), "numpy", numpy.__version__, "PIL", PIL.__version__)'
[[ -n ${carried[dino]:-} ]] || run_phase dino train_dino.py "${dino[@]}"
[[ -n ${carried[ae]:-} ]] || run_phase ae train_ae.py "${ae[@]}"
run_phase dit train_dit.py "${dit[@]}"
"$PY" tools/train/export.py --preset "$PRESET" --runs "$RUNS" --data "$DATA" 2>&1 | tail -n 20 || failed+=(export)
if [[ $TWIN == 1 ]]; then
	# the twin: same budget, batch and LR as the AE and the DiT (train_vae.py reads the ae preset values), and its
	# DiT exactly the SVG DiT's step count (a fit of its own would differ by the throughput's noise)
	[[ -n ${carried[vae]:-} ]] || run_phase vae train_vae.py "${vae[@]}"
	if [[ $mode != smoke ]]; then
		n=$("$PY" -c 'import sys, torch; print(torch.load(sys.argv[1], map_location="cpu", weights_only=False)["step"])' \
			"$RUNS/$PRESET/dit/ckpt.pt" 2>/dev/null) || n=
		if [[ $n =~ ^[0-9]+$ ]]; then
			dit_vae+=(--steps "$n")
			echo "gpu.sh: the twin's DiT trains $n steps, as the SVG model's"
		else
			dit_vae+=(--steps 1000000 --fit-minutes "$(fit "${share[4]}")")
			echo "gpu.sh: no SVG DiT checkpoint: the twin's DiT is fitted to its own share"
		fi
	fi
	run_phase dit_vae train_dit.py "${dit_vae[@]}" --latent vae
	"$PY" tools/train/export.py --preset "$PRESET" --runs "$RUNS" --data "$DATA" --latent vae 2>&1 | tail -n 20 ||
		failed+=(export_vae)
fi

# ---- results: slim checkpoints (what later phases, export.py and novae convert need; no optimiser state) +
# logs, evals and pictures, as one tar split into <= 15 MiB parts, plus a summary ----
"$PY" - "$RUNS/$PRESET" "$WORK" "$OUT" "$PRESET" "$ROOT" <<'EOF'
import csv, glob, json, os, shutil, subprocess, sys
import torch
src, work, out, preset, root = sys.argv[1:6]
sys.path.insert(0, os.path.join(root, "tools", "train"))
import common as C
stage = os.path.join(work, "stage")
shutil.rmtree(stage, ignore_errors=True)
os.makedirs(stage)
summary = {}
for ph in C.SLIM_KEEP:
    d = os.path.join(src, ph)
    if not os.path.exists(os.path.join(d, "ckpt.pt")):
        if ph in ("dino", "ae", "dit") or os.path.isdir(d):
            summary[ph] = {"missing": "no checkpoint (phase failed or did not start)"}
        continue
    os.makedirs(os.path.join(stage, ph))
    ck = torch.load(os.path.join(d, "ckpt.pt"), map_location="cpu", weights_only=False)
    torch.save(C.slim_checkpoint(ck, ph, "gpu.sh: no optimiser state; continue this phase with --fresh"),
               os.path.join(stage, ph, "ckpt.pt"))
    for f in os.listdir(d):
        if f != "ckpt.pt" and not f.startswith("latents_train"):
            p = os.path.join(d, f)  # a folder too: train_dit.py --snapshot-every writes snapshots/
            (shutil.copytree if os.path.isdir(p) else shutil.copy)(p, os.path.join(stage, ph, f))
    # snapshots travel in float16 (half the bytes; the curve's FD is measured on int8-converted models anyway)
    for p in glob.glob(os.path.join(stage, ph, "snapshots", "*.pt")):
        sn = torch.load(p, map_location="cpu")
        torch.save({"ema": {k: v.half() if v.is_floating_point() else v for k, v in sn["ema"].items()}}, p)
    if os.path.exists(os.path.join(work, ph + ".log")):
        shutil.copy(os.path.join(work, ph + ".log"), os.path.join(stage, ph, "stdout.log"))
    rows = list(csv.DictReader(open(os.path.join(d, "log.csv")))) if os.path.exists(os.path.join(d, "log.csv")) else []
    ips = [float(r["img_per_s"]) for r in rows[1:] if r.get("img_per_s")]  # the first row holds start-up
    summary[ph] = {"steps": ck["step"], "img_per_s_median": sorted(ips)[len(ips) // 2] if ips else None,
                   "seconds": float(rows[-1]["time_s"]) if rows else None}
    if os.path.exists(os.path.join(d, "eval.json")):
        summary[ph]["eval"] = json.load(open(os.path.join(d, "eval.json")))
for ex in ("export", "export_vae"):
    if os.path.isdir(os.path.join(src, ex)):
        os.makedirs(os.path.join(stage, ex))
        for f in glob.glob(os.path.join(src, ex, "*.json")) + glob.glob(os.path.join(src, ex, "*.png")):
            shutil.copy(f, os.path.join(stage, ex))
tar = os.path.join(work, f"{preset}_gpu.tar")
subprocess.run(["tar", "-cf", tar, "-C", stage, "."], check=True)
subprocess.run(["split", "-b", "15M", "-d", "-a", "2", tar, os.path.join(out, f"{preset}_gpu.tar.part-")], check=True)
parts = sorted(glob.glob(os.path.join(out, f"{preset}_gpu.tar.part-*")))
summary["files"] = {os.path.basename(p): os.path.getsize(p) for p in parts}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "eval"} if isinstance(v, dict) else v
                  for k, v in summary.items()}, indent=1))
if len(parts) > 6:
    raise SystemExit(f"gpu.sh: {len(parts)} parts: more than the 8 files the run can return with the log and summary")
EOF
echo "gpu.sh: done in $(($(date +%s) - t_start)) s; results in $OUT: $(ls "$OUT" | xargs)"
if ((${#failed[@]})); then
	echo "gpu.sh: FAILED: ${failed[*]} (see gpu.log)" >&2
	exit 1
fi
