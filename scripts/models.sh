#!/usr/bin/env bash
# Puts the shipped models where the page finds them: every models/<name>/ that
# has a model.json is copied to DEST/<name>/ (manifest, shards, model card and
# its eval grids), listed in DEST/index.json for the page's
# model picker, and digits is copied again as DEST/default/ (what the page
# loads without ?model=). Without any shipped model a tiny random one is
# written as DEST/default/, so the page still runs. `make run` (DEST =
# web/models) and `make site` (DEST = <site>/models) both use it.
#
#   scripts/models.sh DEST
set -euo pipefail
dest=${1:?usage: scripts/models.sh DEST}
GO=${GO:-go}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
cd "$(dirname "$0")/.."

copy_model() {
	rm -rf "$2"
	cp -r "$1" "$2"
}

names=()
for m in models/*/; do
	n=$(basename "$m")
	[ -f "$m/model.json" ] || continue
	copy_model "$m" "$dest/$n"
	names+=("\"$n\"")
done
(
	IFS=,
	printf '{"default": "digits", "models": [%s]}\n' "${names[*]}"
) >"$dest/index.json"
if [ -f models/digits/model.json ]; then
	copy_model models/digits "$dest/default"
fi
if [ ! -f "$dest/default/model.json" ]; then
	echo "models: no model in models/ — writing a tiny random one (put converted weights in models/<name>/ for real images)"
	$GO run ./tools/novae random -config tools/e2e/testdata/tiny-random.json -shard -shard-mb 1 -out "$dest/default/model.json" -q
fi
echo "models: ${#names[@]} model(s) in $dest: ${names[*]}"
