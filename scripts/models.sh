#!/usr/bin/env bash
# Puts the shipped models where the page finds them: every SRC/<name>/ that
# has a model.json is copied to DEST/<name>/ (manifest, shards, model card and
# its eval grids), listed in DEST/index.json for the page's model picker, and
# the default model (digits, else the first one that is not a twin) is copied
# again as DEST/default/ (what the page loads without ?model=). A model
# <name>-vae shipped beside <name> is <name>'s VAE-latent twin: index.json
# lists it under "twins" ({"digits": "digits-vae"}), and the page offers
# compare mode for <name>. Without any shipped model a tiny random one is
# written as DEST/default/, so the page still runs. `make run` (DEST =
# web/models) and `make site` (DEST = <site>/models) both use it; SRC is
# models/ unless given (the tests use their own).
#
#   scripts/models.sh DEST [SRC]
set -euo pipefail
dest=${1:?usage: scripts/models.sh DEST [SRC]}
GO=${GO:-go}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
src=${2:-}
[ -z "$src" ] || src=$(cd "$src" && pwd)
cd "$(dirname "$0")/.."
src=${src:-$PWD/models}

copy_model() {
	rm -rf "$2"
	cp -r "$1" "$2"
}

names=()
twins=()
default=""
for m in "$src"/*/; do
	n=$(basename "$m")
	[ -f "$m/model.json" ] || continue
	[ "$n" != default ] || continue
	copy_model "$m" "$dest/$n"
	names+=("\"$n\"")
	base=${n%-vae}
	if [ "$base" != "$n" ] && [ -f "$src/$base/model.json" ]; then
		twins+=("\"$base\": \"$n\"")
	elif [ -z "$default" ] || [ "$n" = digits ]; then
		default=$n
	fi
done
(
	IFS=,
	printf '{"default": "%s", "models": [%s], "twins": {%s}}\n' "${default:-digits}" "${names[*]}" "${twins[*]}"
) >"$dest/index.json"
if [ -n "$default" ]; then
	copy_model "$src/$default" "$dest/default"
fi
if [ ! -f "$dest/default/model.json" ]; then
	echo "models: no model in $src — writing a tiny random one (put converted weights in models/<name>/ for real images)"
	$GO run ./tools/novae random -config tools/e2e/testdata/tiny-random.json -shard -shard-mb 1 -out "$dest/default/model.json" -q
fi
echo "models: ${#names[@]} model(s) in $dest: ${names[*]}${twins:+; twins: ${twins[*]}}"
