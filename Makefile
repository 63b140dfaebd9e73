# OpenTrusty — developer and CI entry points. `make help` lists them.

CARGO       ?= cargo
MUSL_TARGET := x86_64-unknown-linux-musl
BIN         := target/$(MUSL_TARGET)/release/opentrusty

.PHONY: help run test test-sqlite build lint fmt bench bench-identity clean

help: ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

run: ## build and run the daemon on the embedded SQLite default (./var/opentrusty.db, http://127.0.0.1:8080)
	@if [ "$$(id -u)" = 0 ] && [ -z "$$OPENTRUSTY_ALLOW_ROOT" ]; then \
	  echo "make run: running as root for development (OPENTRUSTY_ALLOW_ROOT=true)"; export OPENTRUSTY_ALLOW_ROOT=true; fi; \
	$(CARGO) run --release -- serve

test: ## run every test on SQLite and PostgreSQL (finds or starts a PostgreSQL server)
	@tests/scripts/test.sh

test-sqlite: ## run the tests without PostgreSQL (the PostgreSQL cases report SKIPPED)
	OPENTRUSTY_TEST_POSTGRES_URL= $(CARGO) test

build: ## the static musl release binary (mimalloc allocator)
	$(CARGO) build --release --target $(MUSL_TARGET)
	@ls -l $(BIN) && file $(BIN)

lint: ## formatting and clippy, as CI runs them
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: bench-identity bench-oidc bench-console bench-factors bench-mfa-login ## benchmarks of the static binary (numbers, not pass/fail)

bench-identity: build ## start-up, idle RSS, logins/s vs raw Argon2id, /health/ready under hash saturation
	@# A copy, as installed (see bench/run.sh on page-cache folios and idle RSS).
	@mkdir -p target/bench && cp $(BIN) target/bench/opentrusty
	$(CARGO) run --quiet --example identity-bench -- target/bench/opentrusty $${BENCH_SECONDS:-10}

fmt:
	$(CARGO) fmt

clean:
	$(CARGO) clean

-include packaging/packaging.mk
-include bench/bench.mk
