# The two commands of the README: `make run` starts the app, `make test` runs the whole test suite.
# Both create the virtual environment .venv on first use and only reinstall when a requirements file changes.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test lint format venv test-venv system-deps bench

run: venv
	$(PY) app.py $(ARGS)

test: test-venv system-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: test-venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

venv: $(VENV)/.installed-app
test-venv: $(VENV)/.installed-test

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		echo "warning: $(PYTHON) is not Python 3.11, the version this project is tested with" >&2
	$(PYTHON) -m venv $(VENV)

# sam2 1.1.0 declares torchvision, which would pull a different torch: install it without dependencies
# (its real ones are in requirements.txt), with no CUDA extension build (see README, "Requirements").
$(VENV)/.installed-app: requirements.txt constraints.txt | $(PY)
	$(PIP) -r requirements.txt -c constraints.txt
	SAM2_BUILD_CUDA=0 $(PIP) --no-deps --no-build-isolation sam2==1.1.0
	@touch $@

# torchvision only for the transformers reference processors in tests; the app never imports it.
$(VENV)/.installed-test: $(VENV)/.installed-app requirements-test.txt
	$(PIP) -r requirements-test.txt -c constraints.txt
	$(PIP) --no-deps torchvision==0.28.0
	@touch $@

system-deps:
	@bash tests/system-deps.sh
