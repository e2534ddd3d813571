# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= demo-report

.PHONY: demo test test-future lint install install-test sample screenshots update-golden clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make demo: a complete report from the bundled sample rotation, no services needed
demo:
	./scripts/system-deps.sh demo
	$(MAKE) --no-print-directory install
	$(BIN)/opsmeeting demo --out $(OUT)

## make test: everything the tests need (Debian packages included), then the whole suite
test:
	./scripts/system-deps.sh test
	$(MAKE) --no-print-directory install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	OPSMEETING_REQUIRE_PROMETHEUS=1 $(BIN)/python -m pytest -q

## make test-future: the whole suite with the clock of every process a year ahead (libfaketime): no test may
## depend on today's date. The monotonic clock is moved too: with FAKETIME_DONT_FAKE_MONOTONIC, libfaketime
## 0.9.10 makes Python's time.sleep fail with EINVAL (clock_nanosleep with an absolute deadline).
test-future:
	./scripts/system-deps.sh test
	$(MAKE) --no-print-directory install-test
	OPSMEETING_REQUIRE_PROMETHEUS=1 faketime -f '+365d' $(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

## regenerate the bundled sample snapshot (seeded; the result is committed)
sample: install
	$(BIN)/python scripts/make_sample.py

## make bench: organisation-scale benchmarks against the fakes and slo-generator (see bench/RESULTS.md)
include bench/bench.mk

clean:
	rm -rf $(OUT) .cache .pytest_cache

## rewrite tests/golden/report.html after an intended change to the templates, then review its diff
## make screenshots: the README's pictures from the demo (docs/images; needs Chromium: make test installs it)
screenshots: install-test
	$(BIN)/python scripts/make_screenshots.py

update-golden: install-test
	OPSMEETING_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_report.py -k golden
