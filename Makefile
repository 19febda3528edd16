# fleet — the two commands a newcomer runs are `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PROFILE ?= demo

.PHONY: install test lint wheel-check demo bench bench-quick clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check fleet tests
	$(BIN)/ruff format --check fleet tests

# Build the wheel, install it non-editably into a fresh venv and use it from another directory
# (.ci/wheel-check says what is checked). build/wheel-check/ holds the wheel and the venv.
wheel-check: install
	PY=$(PY) DEV_PY=$(BIN)/python .ci/wheel-check

# The health check on the simulated fleet; exit code 1 (some targets failed) is the expected
# outcome there, so only 2 and 3 (bad input, aborted) fail the demo.
demo: install
	$(BIN)/fleet sim inventory --profile $(PROFILE)
	$(BIN)/fleet run configs/jobs/health-check.yaml --sim --profile $(PROFILE) \
		--time-scale 20 --yes --report demo-report.json; test $$? -le 1

# Benchmarks print figures (bench/README.md); they never fail on speed. Each contender runs on
# its own emulator process; results land in bench/results/<scenario>.json.
bench: install
	$(BIN)/fleet bench vms-2k mixed-10k

bench-quick: install
	$(BIN)/fleet bench quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
