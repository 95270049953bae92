#!/usr/bin/env bash
# Installs what this project needs on a fresh Debian machine. Idempotent: when
# everything is present it only asks dpkg and prints one line.
#
#   scripts/setup.sh           packages that `make test` needs (default)
#   scripts/setup.sh python    adds Debian's torch/numpy/PIL for tools/ (never used by make test)
#   scripts/setup.sh all       both
set -euo pipefail

test_pkgs=(mesa-vulkan-drivers chromium chromium-driver)
# Run the Python tools with /usr/bin/python3; libopenblas0-pthread keeps torch off the reference BLAS;
# gir1.2-rsvg-2.0 + python3-gi-cairo: librsvg for tools/data/prepare.py's SVG emoji art sets.
python_pkgs=(python3-torch python3-torchvision python3-numpy python3-pil libopenblas0-pthread gir1.2-rsvg-2.0
	python3-gi-cairo)

case "${1:-test}" in
test) want=("${test_pkgs[@]}") ;;
python) want=("${python_pkgs[@]}") ;;
all) want=("${test_pkgs[@]}" "${python_pkgs[@]}") ;;
*)
	echo "usage: $0 [test|python|all]" >&2
	exit 2
	;;
esac

missing=()
for p in "${want[@]}"; do
	# dpkg -s succeeds for removed packages that left config files: check the status too.
	if ! dpkg -s "$p" 2>/dev/null | grep -qx 'Status: install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "setup: nothing to do, already installed: ${want[*]}"
	exit 0
fi

as_root=()
if ((EUID != 0)); then
	if ! command -v sudo >/dev/null; then
		echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
	as_root=(sudo)
fi

"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
