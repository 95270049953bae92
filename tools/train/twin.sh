#!/usr/bin/env bash
# The paper's comparison for one preset on CPU cores, from data to figures: every phase of the SVG model and of
# its VAE-latent twin, then export, conversion, `novae eval -twin` and `novae curve`. Rerun the same command to
# go on: a finished phase is skipped, an unfinished one resumes from its checkpoint.
#
#   tools/train/twin.sh [preset]               (default digits)
#
# Order: DINO (phase 1, shared: the twin's perceptual loss uses it too), then two chains side by side, one thread
# each: residual ViT + decoder -> DiT (SVG latent) and VAE -> DiT (VAE latent), both DiTs with the same preset and
# EMA snapshots every SNAPSHOT_EVERY steps (the convergence curve's points); then both exports, `novae convert`
# (int8) into OUT/<preset>/ and OUT/<preset>-vae/, `novae eval -twin` (OUT/<preset>/eval/compare.json; each
# model's own eval.json is extracted from it) and `novae curve` (OUT/<preset>/eval/convergence.{json,png}).
# Ship by copying OUT/<preset>*/ over models/ with their cards (models/README.md says what a shipped model holds).
#
# Finished phases leave a weights-only copy in tools/train/carry/<preset>/<phase>.pt (teacher backbone, AE, VAE,
# EMA DiT; no optimiser state, a few MB each): commit it, and a run on another machine restores it instead of
# training that phase again. An unfinished phase does not travel: it resumes only where its run directory is.
#
# Environment: PYTHON (/usr/bin/python3), RUNS (runs/), DATA (data/; a relative path is taken from the repository root), OUT (RUNS/<preset>/models),
# CARRY (tools/train/carry/<preset>), MAX_MINUTES (per phase and invocation; 0: no limit), SNAPSHOT_EVERY (1000), N (eval images per setting, 200),
# GO (go), STEPS_DIT (the DiTs' step count; default the preset's); TRAIN_ARGS, EVAL_ARGS, CURVE_ARGS (more flags
# for every training phase, for novae eval, for novae curve). A plumbing test, about 5 minutes: RUNS=<tmp>
# TRAIN_ARGS='--limit 64 --steps 3 --batch 8' SNAPSHOT_EVERY=1 N=20 CURVE_ARGS='-steps 1 -real 50'
# EVAL_ARGS='-steps 1,2 -real 50 -recon 10 -probe-train 60 -probe-test 30' tools/train/twin.sh digits
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
GO=${GO:-go}
case "${1:-}" in -h | --help) sed -n '2,22p' "$0"; exit 0 ;; esac
P=${1:-digits}
case "$P" in digits | emoji) ;; *) echo "twin.sh: unknown preset $P (digits|emoji)" >&2; exit 2 ;; esac
RUNS=${RUNS:-$ROOT/runs}
DATA=${DATA:-data} # relative to the repository root: the reports quote it
OUT=${OUT:-$RUNS/$P/models}
CARRY=${CARRY:-$ROOT/tools/train/carry/$P}
SNAP=${SNAPSHOT_EVERY:-1000}
N=${N:-200}
cd "$ROOT"
[[ -f $DATA/$P/meta.json ]] || { echo "twin.sh: no prepared data in $DATA/$P (make data)" >&2; exit 1; }
log() { echo "twin.sh: $(date -u +%H:%M:%S) $*"; }

# finished CKPT [STEPS]: the checkpoint has reached its step count (and STEPS, when asked for more: a DiT
# finished at 2,000 steps is not finished for STEPS_DIT=6000). Status 0 finished, 2 not finished and weights only
# (a carried copy: it cannot resume), 1 otherwise.
finished() {
	[[ -f $1 ]] && "$PY" - "$1" "${2:-0}" <<'EOF'
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
want = max(ck.get("total_steps", 1 << 60), int(sys.argv[2]))
sys.exit(0 if ck.get("step", 0) >= want else 2 if "slim" in ck else 1)
EOF
}

# carry PHASE: a finished phase's weights-only checkpoint -> tools/train/carry/<preset>/<phase>.pt (replacing a
# carried copy with fewer steps: a DiT trained on to more steps)
carry() {
	local d=$RUNS/$P/$1
	mkdir -p "$CARRY"
	"$PY" - "$d/ckpt.pt" "$CARRY/$1.pt" "$1" <<'EOF'
import os, sys, torch
sys.path.insert(0, "tools/train")
import common as C
src, dst, phase = sys.argv[1:4]
ck = torch.load(src, map_location="cpu", weights_only=False)
if os.path.exists(dst) and torch.load(dst, map_location="cpu", weights_only=False)["step"] >= ck["step"]:
    sys.exit(0)
torch.save(C.slim_checkpoint(ck, phase, "weights only (tools/train/twin.sh carry); continue this phase with --fresh"),
           dst + ".tmp")
os.replace(dst + ".tmp", dst)
print(f"twin.sh: carried {phase} (step {ck['step']}) -> {dst} ({os.path.getsize(dst) / 2**20:.1f} MiB)")
EOF
}

# phase NAME SCRIPT ARGS...: skip when finished (restoring a carried copy first), else train (resume) one thread
phase() {
	local name=$1 script=$2
	shift 2
	local d=$RUNS/$P/$name
	local want=0
	[[ $name == dit* ]] && want=${STEPS_DIT:-0}
	if [[ ! -f $d/ckpt.pt && -f $CARRY/$name.pt ]]; then
		# a carried copy has no optimiser state: it stands in for a finished phase only, never resumes
		if finished "$CARRY/$name.pt" "$want"; then
			mkdir -p "$d"
			cp "$CARRY/$name.pt" "$d/ckpt.pt"
			log "$name: restored the carried checkpoint $CARRY/$name.pt"
		else
			log "$name: the carried $CARRY/$name.pt has fewer steps than asked for: training from the start"
		fi
	fi
	local st=0
	finished "$d/ckpt.pt" "$want" || st=$?
	if ((st == 0)); then
		log "$name: finished, skipped"
		carry "$name"
		return 0
	fi
	if ((st == 2)); then
		# restored from a carried copy on an earlier run, now asked for more steps: weights only, cannot resume
		mv "$d/ckpt.pt" "$d/ckpt.carried.pt"
		log "$name: its checkpoint is a carried copy (no optimiser state), kept as ckpt.carried.pt: training from the start"
	fi
	log "$name: training (log $RUNS/$P/$name.log)"
	local lim=()
	[[ ${MAX_MINUTES:-0} != 0 ]] && lim=(--max-minutes "$MAX_MINUTES")
	# shellcheck disable=SC2086 # TRAIN_ARGS is a list of flags
	nice -n 19 "$PY" "tools/train/$script" --preset "$P" --runs "$RUNS" --data "$DATA" --threads 1 "${lim[@]}" "$@" \
		${TRAIN_ARGS:-} >>"$RUNS/$P/$name.log" 2>&1
	if finished "$d/ckpt.pt" "$want"; then
		carry "$name"
	else
		log "$name: stopped before its last step (time budget): rerun to resume"
		return 1
	fi
}

mkdir -p "$RUNS/$P"
phase dino train_dino.py
dit=(--snapshot-every "$SNAP")
[[ -n ${STEPS_DIT:-} ]] && dit+=(--steps "$STEPS_DIT")
(phase ae train_ae.py && phase dit train_dit.py "${dit[@]}") &
svg=$!
(phase vae train_vae.py && phase dit_vae train_dit.py --latent vae "${dit[@]}") &
vae=$!
ok=1
wait $svg || ok=0
wait $vae || ok=0
((ok)) || { log "a chain has not finished: rerun to resume"; exit 1; }
if [[ ! -d $RUNS/$P/dit/snapshots || ! -d $RUNS/$P/dit_vae/snapshots ]]; then
	log "note: no snapshots (DiTs restored from carried copies?): the convergence curve is skipped"
fi

log "export"
"$PY" tools/train/export.py --preset "$P" --runs "$RUNS" --data "$DATA" | tail -n 3
"$PY" tools/train/export.py --preset "$P" --runs "$RUNS" --data "$DATA" --latent vae | tail -n 3
heads=$("$PY" -c "import sys; sys.path.insert(0, 'tools/train'); import presets; print(presets.get_preset('$P')['resvit']['num_heads'])")
E=$RUNS/$P/export
V=$RUNS/$P/export_vae
log "convert"
$GO run ./tools/novae convert -dit "$E/svg_${P}_dit.pt" -ae "$E/svg_${P}_autoencoder.ckpt" -stats "$E/dinov3_sp_stats.pt" \
	-config "models/$P/card.json" -vit-heads "$heads" -quant int8 -quant-convs -shard -out "$OUT/$P/model.json"
$GO run ./tools/novae convert -dit "$V/vae_${P}_dit.pt" -ae "$V/vae_${P}_autoencoder.ckpt" -stats "$V/vae_latent_stats.pt" \
	-config "models/$P/card.json" -name "$P-vae" -quant int8 -quant-convs -shard -out "$OUT/$P-vae/model.json"

log "eval -twin (n = $N per setting)"
mkdir -p "$OUT/$P/eval" "$OUT/$P-vae/eval"
# shellcheck disable=SC2086
$GO run ./tools/novae eval -weights "$OUT/$P/model.json" -twin "$OUT/$P-vae/model.json" -data "$DATA/$P" -n "$N" ${EVAL_ARGS:-} \
	-out "$OUT/$P/eval/compare.json" -md "$OUT/$P/eval/compare.md"
"$PY" - "$OUT/$P/eval/compare.json" "$OUT/$P/eval/eval.json" "$OUT/$P-vae/eval/eval.json" <<'EOF'
import json, sys
pair = json.load(open(sys.argv[1]))
for m, path in zip(pair["models"], sys.argv[2:4]):
    json.dump(m, open(path, "w"), indent=1, ensure_ascii=False)
    print(f"twin.sh: wrote {path}")
EOF
if [[ -d $RUNS/$P/dit/snapshots && -d $RUNS/$P/dit_vae/snapshots ]]; then
	log "curve"
	# shellcheck disable=SC2086
	$GO run ./tools/novae curve -weights "$OUT/$P/model.json" -snapshots "$RUNS/$P/dit/snapshots" \
		-twin "$OUT/$P-vae/model.json" -twin-snapshots "$RUNS/$P/dit_vae/snapshots" -data "$DATA/$P" -steps 4,25 \
		-n "$N" ${CURVE_ARGS:-} -out "$OUT/$P/eval/convergence.json"
fi
log "done: $OUT/$P and $OUT/$P-vae"
