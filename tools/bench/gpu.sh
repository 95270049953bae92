#!/usr/bin/env bash
# The one command for a GPU machine (assumed: no Go, no Vulkan loader, PyTorch + CUDA installed):
# novae's figures and PyTorch's in the same run, then the ratios.
#
# Here, once (needs Go and network): build the self-contained binary (links only glibc) and fetch the Vulkan loader packages:
#   make bench-binary
#   echo /.gl/ >>.git/info/exclude
#   mkdir -p .gl && (cd .gl && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# There, in the repository root with .gl/ and build/novae-bench copied along:
#   bash tools/bench/gpu.sh            # writes bench.json ladder.json base.json torch.json into $RESULTS (or .)
# Here, a smoke run of the same script on the CPU drivers and Debian's torch:
#   SMALL=1 PYTHON=/usr/bin/python3 bash tools/bench/gpu.sh
#
# Steps (each prints its table; a failing step does not stop the others):
#   1. novae-bench                      every kernel line + the networks, PlanMatMul's choice (auto)
#   2. novae-bench -kernel ladder,tune  the matmul ladder at SVG-XL's f32 shapes, then every candidate plan
#                                       measured per shape (the fastest four printed under each tune line)
#   3. novae-bench -kernel matmul,tune  the networks with the reference matmul (before) and tuned plans
#   4. tools/torchbench/bench.py        PyTorch: the same networks, fp32 / tf32 / bf16 / bf16w
#   5. tools/torchbench/compare.py      ratios novae/PyTorch
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
t0=$SECONDS
step "1. novae: kernels and networks (auto)"
"$bin" "${small[@]}" -json "$out/bench.json"
step "2. novae: matmul ladder and tuning at the f32 shapes ($((SECONDS - t0)) s so far)"
"$bin" "${small[@]}" -net=false -kernel ladder,tune -filter '^matmul_f32 ' -json "$out/ladder.json"
step "3. novae: networks with the reference matmul, and tuned ($((SECONDS - t0)) s so far)"
"$bin" "${small[@]}" -kernel matmul,tune -filter '^dit_cfg_step .*f32w|^decoder |^sample_4 ' -json "$out/base.json"
step "4. pytorch ($((SECONDS - t0)) s so far)"
tsmall=()
[ "${SMALL:-0}" = 1 ] && tsmall=(--small)
"$py" tools/torchbench/bench.py "${tsmall[@]}" --json "$out/torch.json"
step "5. ratios ($((SECONDS - t0)) s in all)"
"$py" tools/torchbench/compare.py "$out/bench.json" "$out/torch.json" "$out/base.json"
