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
# make lab: JupyterLab without nbgrader's instructor and exchange tools (jupyter/student/).
STUDENT_JUPYTER := $(CURDIR)/jupyter/student
# make test-ui: the Chromium that Playwright drives (Debian's; Playwright downloads none),
# and the whole browser test's time limit in seconds (about 2 minutes when the machine is quiet).
CHROMIUM ?= /usr/bin/chromium
UI_LIMIT ?= 1200

.PHONY: help setup data lab instructor test test-ui test-fast test-notebook lint labs bench \
        bench-grading bwrap clean-venv

help:
	@echo "make lab    set up, fetch the data, open JupyterLab on my-labs/ (copies of labs/)"
	@echo "make test   set up, fetch the data, run all tests (unit + notebooks)"
	@echo "make labs   rebuild labs/ from solutions/"
	@echo "make bench  run the benchmark against Surprise / implicit (slow)"
	@echo "make bench-grading  grading time vs bare execution, 20 submissions of lab 01, with/without sandbox"
	@echo "make instructor  JupyterLab on the project with nbgrader's tools (Create Assignment, Formgrader)"
	@echo "make test-ui     browser test of the student JupyterLab (Chromium + Playwright)"
	@echo "make test-notebook NB=solutions/02_biased_mf.ipynb  execute one notebook (nbval), for authors"
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
	JUPYTER_CONFIG_PATH=$(STUDENT_JUPYTER) $(BIN)/jupyter lab --notebook-dir=$(MY_LABS) $(ALLOW_ROOT)

# Instructors: the whole project, with nbgrader's tools (Create Assignment, Formgrader, Validate).
instructor: data
	@echo ">> opening JupyterLab on the project with nbgrader's instructor tools (Ctrl-C to stop)"
	$(BIN)/jupyter lab --notebook-dir=. $(ALLOW_ROOT)

# The browser test: the student JupyterLab in Debian's Chromium, driven by Playwright.
test-ui: data
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo ">> $(CHROMIUM) is missing: installing Debian's chromium with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "!! $(CHROMIUM) is missing and cannot be installed here (needs root and apt-get)."; \
	    echo "!! Install Chromium (Debian: sudo apt-get install chromium), or name yours:"; \
	    echo "!!   make test-ui CHROMIUM=/path/to/chromium"; \
	    exit 1; \
	  fi; \
	fi
	@$(BIN)/python -c "import playwright" 2>/dev/null || { \
	  echo ">> installing Playwright into $(VENV) (the [ui] extra; it drives $(CHROMIUM), no browser download)"; \
	  $(BIN)/python -m pip install --quiet --progress-bar off -e '.[test,ui]'; }
	@echo ">> browser test: student JupyterLab on 127.0.0.1, $(CHROMIUM) headless (at most $(UI_LIMIT) s;"
	@echo ">>   screenshots in /tmp/ui-shots; a failed test leaves its page's text there too)"
	@RECLAB_CHROMIUM=$(CHROMIUM) timeout --kill-after=30 $(UI_LIMIT) \
	  $(BIN)/python -u -m pytest -p no:cacheprovider -v --durations=0 tests/ui; rc=$$?; \
	if [ $$rc = 124 ] || [ $$rc = 137 ]; then \
	  echo "!! the browser test ran past $(UI_LIMIT) s and was stopped (make test-ui UI_LIMIT=<s>)"; \
	fi; exit $$rc

# Grading tests run each kernel in bubblewrap (reclab grade --sandbox): install it when we can.
bwrap:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo ">> bubblewrap (bwrap) is missing: installing Debian's bubblewrap with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else \
	    echo "!! bwrap is missing and cannot be installed here (needs root and apt-get):"; \
	    echo "!! the sandbox tests will say so and fail. Install it: sudo apt-get install bubblewrap"; \
	  fi; }

test: data bwrap
	@echo ">> ruff"
	$(BIN)/ruff check reclab tests solutions benchmarks conftest.py
	@echo ">> pytest: unit tests, checks, labs/ = what 'reclab labs build' makes (tests/test_labs.py),"
	@echo ">>   and every solution notebook executed once"
	@echo ">>   (graded as a submission, sandboxed: every cell runs, full marks; tests/test_grading.py)"
	MPLBACKEND=Agg $(BIN)/python -m pytest --durations=25 --doctest-modules reclab tests --ignore=tests/ui

# For notebook authors: execute one notebook top to bottom while editing it.
test-notebook: setup
	MPLBACKEND=Agg $(BIN)/python -m pytest --nbval-lax $(NB)

test-fast: setup
	$(BIN)/python -m pytest tests -m "not slow"

lint: setup
	$(BIN)/ruff check reclab tests solutions benchmarks conftest.py

labs: setup
	$(BIN)/reclab labs build

bench-grading: data bwrap
	$(BIN)/python benchmarks/bench_grading.py --lab 01_regression_dot -n 20 --jobs 2 --sandbox both

bench: data
	@echo ">> installing the benchmark peers (Surprise, implicit)"
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[test,bench]'
	$(BIN)/reclab bench

clean-venv:
	rm -rf $(VENV)
