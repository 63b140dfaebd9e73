# OIDC benchmarks (issue 4). The top-level Makefile includes this with
# `-include bench/bench.mk` and lists bench-oidc under `bench:`.
.PHONY: bench-oidc
bench-oidc: build ## OIDC endpoints on SQLite vs a trivial handler and raw RS256 (BENCH_CONNS, BENCH_SECS)
	@bench/run.sh
