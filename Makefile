# reclab — one command to open the labs, one to run every test.
#   make lab    set up .venv (once), fetch + verify MovieLens 100k (once), copy any new lab
#               into my-labs/ and open JupyterLab there
#   make test   same setup, then the unit tests, the lab build check and every solution notebook
# Setup is incremental: an existing .venv is reused and only reinstalled when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.reclab-installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL := 3
# Students work in my-labs/, their own copies of labs/: rebuilding labs/ never touches them.
MY_LABS := my-labs
# Jupyter refuses to run as root (containers, CI) unless told it is fine.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup data lab test test-fast lint labs bench clean-venv

help:
	@echo "make lab    set up, fetch the data, open JupyterLab on my-labs/ (copies of labs/)"
	@echo "make test   set up, fetch the data, run all tests (unit + notebooks)"
	@echo "make labs   rebuild labs/ from solutions/"
	@echo "make bench  run the benchmark against Surprise / implicit (slow)"
	@echo "make lint   ruff on the package, tests and notebooks"

$(BIN)/python:
	@echo ">> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@echo ">> installing reclab (editable) and its dependencies into $(VENV)"
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)
	@echo ">> $(VENV) is ready"

data: setup
	@echo ">> fetching and verifying MovieLens 100k (cached after the first time)"
	$(BIN)/reclab data fetch

lab: data
	@mkdir -p $(MY_LABS)
	@for lab in labs/*.ipynb; do \
	  [ -e "$(MY_LABS)/$${lab##*/}" ] || { cp "$$lab" "$(MY_LABS)/" && echo ">> copied $$lab to $(MY_LABS)/"; }; \
	done
	@echo ">> opening JupyterLab on $(MY_LABS)/ (your copies of labs/; Ctrl-C to stop)"
	$(BIN)/jupyter lab --notebook-dir=$(MY_LABS) $(ALLOW_ROOT)

test: data
	@echo ">> ruff"
	$(BIN)/ruff check reclab tests solutions conftest.py
	@echo ">> labs/ must be exactly what 'reclab labs build' makes from solutions/"
	$(BIN)/reclab labs build --check
	@echo ">> pytest: unit tests, then every solution notebook (nbval)"
	MPLBACKEND=Agg $(BIN)/python -m pytest --durations=20 --doctest-modules reclab tests
	@echo ">> every solution notebook, executed top to bottom (nbval)"
	$(BIN)/python -m pytest --durations=0 --nbval-lax solutions

test-fast: setup
	$(BIN)/python -m pytest tests -m "not slow"

lint: setup
	$(BIN)/ruff check reclab tests solutions conftest.py

labs: setup
	$(BIN)/reclab labs build

bench: data
	@echo ">> installing the benchmark peers (Surprise, implicit)"
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[test,bench]'
	$(BIN)/reclab bench

clean-venv:
	rm -rf $(VENV)
