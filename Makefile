# The two set-up commands on a fresh machine are `make test` and `make dev`: each creates or
# refreshes .venv itself (re-installing only when pyproject.toml, setup.py or a compiled module changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
#: command:Debian package pairs installed by the venv target when missing
SYSTEM_TOOLS := prometheus:prometheus amtool:prometheus-alertmanager chromium:chromium stunnel4:stunnel4

.PHONY: venv test unit integration lint dev bench clean

# setup.py and its COMPILED sources too: the editable install's compiled module shadows its source
$(STAMP): pyproject.toml setup.py schemas/avro_binary.py schemas/label_fingerprint.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	$(BIN)/python deploy/install_helm.py $(BIN)
	@# Debian packages for the real-parts tests: Prometheus (metric tests), Alertmanager + amtool (API
	@# compatibility, the bench's comparison), Chromium (page tests), stunnel4 (the TLS proxy in front of the local
	@# broker). Skipped with a reason without root/apt.
	missing=""; for pair in $(SYSTEM_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	      || echo "could not install$$missing: the tests that need them will be skipped"; \
	  else echo "not installed:$$missing (needs root and apt): the tests that need them will be skipped"; fi; \
	fi
	touch $(STAMP)

venv: $(STAMP)

# Two pytest workers (one test file at a time each, so module fixtures stay whole): each starts its
# own broker and database, and most integration time is waiting, so two halve the wall time.
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests

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
