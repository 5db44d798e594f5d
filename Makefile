# cuescore: `make demo` sets everything up and scores a clip; `make test` sets up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo_out

.PHONY: setup test test-fast demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	# tinysoundfont declares pyaudio (live playback only): install it without its deps.
	$(BIN)/python -m pip install -q --no-deps "tinysoundfont>=0.3"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/cuescore demo-clip $(DEMO_DIR)/demo.mp4
	$(BIN)/cuescore analyze $(DEMO_DIR)/demo.mp4 -o $(DEMO_DIR)/demo_features
	@echo "Features written to $(DEMO_DIR)/demo_features"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_analyze.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
