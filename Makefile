# The two commands that matter: `make run` (dashboard on the sandbox) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501
# Loopback by default: the dashboard mints credentials. `make run ADDRESS=0.0.0.0` to serve others
# (in live mode, behind the access gate and TLS).
ADDRESS ?= 127.0.0.1

.PHONY: run test setup browser oidc-provider postgresql sandbox bench lint-imports clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	# The core as an editable package: notebooks and scripts anywhere import commbox_core.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(STAMP)

## run: set up and start the dashboard (on the built-in sandbox unless an API key is configured)
run: setup
	$(BIN)/streamlit run serve.py --server.port $(PORT) --server.address $(ADDRESS)

## test: set up (virtualenv, packages, Chromium and an OIDC provider for the browser tests, PostgreSQL
## for the store tests), check the import contract, run every test
test: setup browser oidc-provider postgresql lint-imports
	$(BIN)/python -m pytest

## oidc-provider: the OpenID Connect provider (npm's oauth2-mock-server) the sign-in browser tests use
oidc-provider:
	@bash scripts/ensure-oidc-provider.sh

## postgresql: Debian's PostgreSQL server binaries; the store tests start a throwaway cluster with them
postgresql:
	@bash scripts/ensure-postgresql.sh

## lint-imports: the layer contract in .importlinter (rooms follow the data flow; no cycles)
lint-imports: setup
	$(BIN)/lint-imports --no-cache

## browser: Debian's Chromium for the end-to-end tests (Playwright drives it, never downloads one)
browser:
	@bash scripts/ensure-chromium.sh

## sandbox: the CommBox emulator on http://127.0.0.1:8700 with its demo brand
sandbox: setup
	$(BIN)/python -m commbox_core sandbox --port 8700

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts tests/oidc/node_modules
