# cuescore: `make demo` sets everything up and scores a clip; `make test` sets up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo_out

.PHONY: setup test test-fast demo bench clean

setup: $(STAMP)

# Installed without their declared deps: tinysoundfont (declares pyaudio, used only for live
# playback) and basic-pitch (declares tensorflow; its ONNX model runs on onnxruntime), whose
# mir_eval needs only what librosa brings.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps "tinysoundfont>=0.3" "basic-pitch==0.4.0" "mir_eval==0.8.2"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/cuescore demo-clip $(DEMO_DIR)/demo.mp4
	$(BIN)/cuescore generate $(DEMO_DIR)/demo.mp4 -o $(DEMO_DIR)/demo_scored.mp4 --seed 1
	$(BIN)/cuescore evaluate $(DEMO_DIR)/demo_scored.json
	@echo "Open $(DEMO_DIR)/demo_scored.mp4 (score: demo_scored.mid, audio: demo_scored.wav, plan: demo_scored.json)"

bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_analyze.py && ../$(BIN)/python bench_generate.py && ../$(BIN)/python bench_quality.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
