# The benchmark harness: `include bench/bench.mk` from the Makefile, then `make bench`.
# Assumes .venv exists with `pip install -e '.[test]'` (make install-test) and Debian's prometheus,
# promtool and fonts (make test's system deps). slo-generator 2.6.0 pins old dependencies, so it
# gets its own virtualenv, bench/.venv-slogen. Everything generated goes under bench/out/.
#
#   make bench                          every sub-benchmark; writes bench/results.json, bench/RESULTS.md
#   make bench BENCH=prometheus         one of: pagerduty prometheus aggregate render run scaling ratelimit startup
#   make bench BENCH_REPEAT=1           fewer runs per measurement (default 3)

BENCH        ?= all
BENCH_REPEAT ?= 3
BENCH_VENV   := bench/.venv-slogen
BENCH_PYTHON ?= .venv/bin/python

.PHONY: bench bench-report bench-clean

$(BENCH_VENV)/.installed:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q "slo-generator[prometheus]==2.6.0" "setuptools<81"
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_PYTHON) bench/run_bench.py $(BENCH) --repeat $(BENCH_REPEAT)

## regenerate bench/RESULTS.md from bench/results.json without measuring
bench-report:
	$(BENCH_PYTHON) bench/report.py

bench-clean:
	rm -rf bench/out
