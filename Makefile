# The two set-up commands on a fresh machine are `make test` and `make dev`: each creates or
# refreshes .venv itself (re-installing only when pyproject.toml changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test unit integration lint dev bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	$(BIN)/python deploy/install_helm.py $(BIN)
	@# a real Prometheus for the metric tests (Debian's package); skipped with a reason where apt is unavailable
	command -v prometheus >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
	  || echo "prometheus not installed: metric tests against a real Prometheus will be skipped"; }
	@# Alertmanager + amtool (Debian's package): the incumbent beside us in the e2e bench, amtool against our API
	command -v amtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; } \
	  || echo "prometheus-alertmanager not installed: the comparison and amtool tests will be skipped"; }
	@# a real headless browser for the page tests (Debian's chromium; Playwright drives it by its path)
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	  || echo "chromium not installed: browser tests will be skipped"; }
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/hadolint Dockerfile

dev: $(STAMP)
	$(BIN)/alertstream dev

bench: $(STAMP)
	$(BIN)/alertstream bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
