#!/usr/bin/env bash
# The one command for a GPU machine (assumed: no Go, no Vulkan loader, PyTorch + CUDA installed):
# novae's figures and PyTorch's in the same run, then the ratios.
#
# Here, once (needs Go and network): build the self-contained binaries (link only glibc: novae-bench and the
# shaders and model test binaries) and fetch the Vulkan loader packages:
#   make bench-binary
#   echo /.gl/ >>.git/info/exclude
#   mkdir -p .gl && (cd .gl && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# There, in the repository root with .gl/ and build/novae-bench copied along:
#   bash tools/bench/gpu.sh            # writes bench.json ladder.json base.json torch.json into $RESULTS (or .)
# Here, a smoke run of the same script on the CPU drivers and Debian's torch:
#   SMALL=1 PYTHON=/usr/bin/python3 bash tools/bench/gpu.sh
#
# Steps (each prints its table; a failing step does not stop the others):
#   0. build/shaders.test, model.test   every kernel and network test on this GPU (skipped when absent)
#   1. novae-bench                      every kernel line + the networks, PlanMatMul's choice (auto), the
#                                       kernel targets under the table
#   2. novae-bench -kernel ladder,tune  the matmul ladder at SVG-XL's f32 shapes, then every candidate plan
#                                       measured per shape (the fastest four printed under each tune line)
#   3. novae-bench -kernel matmul,tune  the networks with the reference matmul (before) and tuned plans
#   4. tools/torchbench/bench.py        PyTorch: the same networks, fp32 / tf32 / bf16 / bf16w
#   5. tools/torchbench/compare.py      ratios novae/PyTorch (none where the FLOP counts differ)
#   6. stability                        the SVG-XL CFG step (f32w, f16w) and the DiT weight stream in three
#                                       fresh processes: the step must agree within 10%; a weight-stream
#                                       rate far below elementwise_add's means weights placed in system memory
# Device time: about 3 minutes for steps 0-1, 2-3 minutes each for 2-4, under a minute for 6 (H100).
# STEPS picks steps (default all: "0 1 2 3 4 5 6"); they run in that order. Where one command may run at most
# 10 minutes, split the run over calls that keep $RESULTS (an ignored folder such as build/gpu):
#   RESULTS=build/gpu STEPS="0 1" bash tools/bench/gpu.sh      # tests, kernels, networks
#   RESULTS=build/gpu STEPS="4 5 6" bash tools/bench/gpu.sh    # PyTorch, ratios, stability
#   RESULTS=build/gpu STEPS="2 3 5" bash tools/bench/gpu.sh    # matmul ladder/tuning, ratios with the baseline
set -u
cd "$(dirname "$0")/../.."
out=${RESULTS:-.}
mkdir -p "$out"
bin=${BENCH:-./build/novae-bench}
py=${PYTHON:-python3}
small=()
[ "${SMALL:-0}" = 1 ] && small=(-small)

if [ -d .gl ] && ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
	for f in .gl/*.deb; do dpkg -x "$f" /; done
	ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then
	export VK_DRIVER_FILES=$icd
	export NOVAE_BACKEND=${NOVAE_BACKEND:-vulkan}
fi
if [ ! -x "$bin" ]; then
	if command -v go >/dev/null; then
		go build -o "$bin" ./tools/bench || exit 1
	else
		echo "gpu.sh: no $bin (run make bench-binary where Go is, and take it along)" >&2
		exit 1
	fi
fi

step() { echo; echo "=== $*"; }
want() { [[ " ${STEPS:-0 1 2 3 4 5 6} " == *" $1 "* ]]; }
t0=$SECONDS
want 0 && step "0. tests on this GPU" &&
for p in shaders model; do
	if [ -x "build/$p.test" ]; then
		(cd "$p" && timeout 240 "../build/$p.test" -test.count=1 2>&1 | grep -v 'XDG_RUNTIME_DIR\|No config found' | tail -15)
	else
		echo "no build/$p.test (make bench-binary builds it)"
	fi
done
if want 1; then
	step "1. novae: kernels and networks (auto) ($((SECONDS - t0)) s so far)"
	"$bin" "${small[@]}" -json "$out/bench.json"
fi
if want 2; then
	step "2. novae: matmul ladder and tuning at the f32 shapes ($((SECONDS - t0)) s so far)"
	"$bin" "${small[@]}" -net=false -kernel ladder,tune -filter '^matmul_f32 ' -json "$out/ladder.json"
fi
if want 3; then
	step "3. novae: networks with the reference matmul, and tuned ($((SECONDS - t0)) s so far)"
	"$bin" "${small[@]}" -kernel matmul,tune -filter '^dit_cfg_step .*f32w|^decoder |^sample_4 ' -json "$out/base.json"
fi
if want 4; then
	step "4. pytorch ($((SECONDS - t0)) s so far)"
	tsmall=()
	[ "${SMALL:-0}" = 1 ] && tsmall=(--small)
	"$py" tools/torchbench/bench.py "${tsmall[@]}" --json "$out/torch.json"
fi
if want 5; then
	step "5. ratios ($((SECONDS - t0)) s so far)"
	base=()
	[ -f "$out/base.json" ] && base=("$out/base.json")
	"$py" tools/torchbench/compare.py "$out/bench.json" "$out/torch.json" "${base[@]}"
fi
want 6 && step "6. stability: three fresh processes ($((SECONDS - t0)) s so far)" &&
for i in 1 2 3; do
	"$bin" "${small[@]}" -filter '^dit_cfg_step (svg-xl|tiny) |^dit_weights (svg-xl|tiny) |^elementwise_add ' -json "$out/stability$i.json" |
		grep -E '^(dit_cfg_step|dit_weights|elementwise_add) '
done
step "done ($((SECONDS - t0)) s in all)"
