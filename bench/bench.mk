# OIDC benchmarks (issue 4). The top-level Makefile includes this with
# `-include bench/bench.mk` and lists bench-oidc under `bench:`.
.PHONY: bench-oidc
bench-oidc: build ## OIDC endpoints on SQLite vs a trivial handler and raw RS256 (BENCH_CONNS, BENCH_SECS)
	@bench/run.sh

# Console pages (issue 11): server time p50/p99 per page on SQLite with 100,000 users and
# 1,000,000 audit events, through the real daemon with a signed-in console session. Uses the
# release binary of this machine's target (BENCH_BIN to measure another, e.g. the musl one).
.PHONY: bench-console
bench-console: ## console pages with 100k users and 1M audit events on SQLite (BENCH_REQUESTS, BENCH_BIN)
	$(CARGO) build --release --bin opentrusty --example console-bench
	target/release/examples/console-bench $${BENCH_BIN:-target/release/opentrusty}

# Second factors (issue 12): CPU per TOTP check as the login does it (KEK open + verify) next to
# one Argon2id verification with the default parameters, in process.
.PHONY: bench-factors
bench-factors: ## CPU per TOTP check vs one Argon2id verification (in process)
	$(CARGO) run --quiet --release --example factors-bench

# Login throughput with password + TOTP (issue 12) through the real pages of the static binary,
# next to password-only logins and the raw Argon2id rate in the same run. BENCH_SECONDS per phase.
.PHONY: bench-mfa-login
bench-mfa-login: build ## logins/s with password + TOTP vs password only vs raw Argon2id
	@mkdir -p target/bench && cp $(BIN) target/bench/opentrusty
	$(CARGO) run --quiet --release --example mfa-login-bench -- target/bench/opentrusty $${BENCH_SECONDS:-5}
