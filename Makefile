# ferrosocket — two commands do all the set-up on a fresh machine:
#   make demo   build and run the chat example on http://$(HOST):$(PORT)
#   make test   install what the tests need and run every suite
CARGO ?= cargo
HOST  ?= 127.0.0.1
PORT  ?= 5000
CHAT_VENDOR := examples/chat/static/vendor/socket.io.min.js

.PHONY: demo chat-assets test test-rust lint fuzz-build build-test-bins test-js test-python test-browser bench clean

demo: chat-assets
	$(CARGO) run --release -p ferrosocket-chat -- --host $(HOST) --port $(PORT)

# The page loads the official socket.io client from the chat server itself, installed
# from npm at the version pinned in examples/chat/package-lock.json (never a CDN).
chat-assets: $(CHAT_VENDOR)
$(CHAT_VENDOR): examples/chat/package.json examples/chat/package-lock.json
	npm ci --prefix examples/chat --no-audit --no-fund
	mkdir -p $(dir $@)
	cp examples/chat/node_modules/socket.io-client/dist/socket.io.min.js $@

test: lint test-rust fuzz-build build-test-bins test-js test-python test-browser

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

# Fuzz targets are built (not run) to keep them compiling; needs nightly-free cargo-fuzz
# build via `cargo check` of the fuzz crate, which is outside the workspace.
fuzz-build:
	cd core/fuzz && $(CARGO) check --bins

build-test-bins: chat-assets
	$(CARGO) build --workspace --bins

test-js: build-test-bins
	tests/js/run.sh

test-python: build-test-bins
	tests/python/run.sh

test-browser: build-test-bins
	tests/browser/run.sh

# Load scenarios against ferrosocket (idle memory, fan-out, echo); about three minutes.
# Figures depend on the machine: see bench/README.md and bench/RESULTS-core.md.
bench:
	bench/run.sh

clean:
	$(CARGO) clean
	rm -rf examples/chat/node_modules examples/chat/static/vendor tests/js/node_modules tests/browser/node_modules .venv
