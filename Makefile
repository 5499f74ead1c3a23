# The two commands that matter: `make run` (dashboard on the sandbox) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501
# Loopback by default: the dashboard mints credentials. `make run ADDRESS=0.0.0.0` to serve others
# (in live mode, behind the access gate and TLS).
ADDRESS ?= 127.0.0.1

.PHONY: run test setup browser sandbox bench lint clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

setup: $(STAMP)

## run: set up and start the dashboard (on the built-in sandbox unless an API key is configured)
run: setup
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS)

## test: set up (virtualenv, packages, Chromium for the browser tests) and run every test
test: setup browser
	$(BIN)/python -m pytest

## browser: Debian's Chromium for the end-to-end tests (Playwright drives it, never downloads one)
browser:
	@bash scripts/ensure-chromium.sh

## sandbox: the CommBox emulator on http://127.0.0.1:8700 with its demo brand
sandbox: setup
	$(BIN)/python -m commbox_core sandbox --port 8700

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
