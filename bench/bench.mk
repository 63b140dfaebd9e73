# Benchmarks (issue 4): included by the top-level Makefile with `-include bench/bench.mk`.
.PHONY: bench
bench: ## load-test the release daemon on SQLite (BENCH_CONNS, BENCH_SECS) and print the numbers
	@bench/run.sh
