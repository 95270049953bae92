#!/usr/bin/env bash
# Writes novae's page as a self-contained static site: everything in OUT
# (default build/site) is a plain file, every URL the page uses is relative,
# so the directory works from any static host and from any sub-path
# (https://you.github.io/project/). `make site` runs it; the README's
# "Publishing the page" section says how to host it.
#
#   OUT/index.html, app.js, app.css, view.html, view.js, weights.js, sw.js   the page (web/)
#   OUT/novae.wasm (+ .br, .gz)      the program, with pre-compressed twins
#   OUT/wasm_exec.js (+ .br, .gz)    Go's loader for it
#   OUT/models/index.json, models/<name>/…, models/default/   scripts/models.sh
#   OUT/.nojekyll                    GitHub Pages: publish the files as they are
#
#   scripts/site.sh [OUT]
# Environment: GO (the go command), BROTLI (quality, default 11),
# NOVAE_WASM (a novae.wasm already built, copied instead of building one).
set -euo pipefail
out=${1:-build/site}
GO=${GO:-go}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
case "$out" in "$PWD" | "$PWD/web" | /) echo "site: refusing to write into $out" >&2; exit 2 ;; esac
find "$out" -mindepth 1 -delete

# The page: every file of web/ but what `make run` builds into it.
for f in web/*; do
	case $(basename "$f") in novae.wasm | novae.wasm.* | wasm_exec.js | wasm_exec.js.* | models) continue ;; esac
	[ -f "$f" ] && cp "$f" "$out/"
done
if [ -n "${NOVAE_WASM:-}" ]; then
	cp "$NOVAE_WASM" "$out/novae.wasm"
else
	GOOS=js GOARCH=wasm $GO build -trimpath -ldflags='-s -w' -o "$out/novae.wasm" ./wasm
fi
cp "$($GO env GOROOT)/lib/wasm/wasm_exec.js" "$out/"
touch "$out/.nojekyll"
GO=$GO bash scripts/models.sh "$out/models"
# Twins of the program and the text files (hosts that compress on the fly
# ignore them; nginx, Caddy and CDNs configured for it send them).
$GO run ./tools/compress -brotli "${BROTLI:-11}" "$out/novae.wasm" "$out"/*.js "$out"/*.html "$out"/*.css
echo "site: $out ($(du -sh "$out" | cut -f1)); serve it with any static file server, e.g. go run ./tools/serve -dir $out"
