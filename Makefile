# `make play` and `make test` are all a newcomer types: both create .venv and install what is missing first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.frontline-installed

.PHONY: setup play serve test test-fast bench bench-team validate schema clean

# The CPU build of torch goes in first: installed later as a dependency, pip would fetch a CUDA build of several GB.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

play: $(STAMP)
	$(VENV)/bin/frontline

# The trainee app in a browser at http://127.0.0.1:8000/ (starts its own scoring service; Ctrl+C stops both).
serve: $(STAMP)
	$(VENV)/bin/frontline serve

test: $(STAMP)
	$(PY) -m pytest

# Everything but the tests that load the real model or drive a browser.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not model and not browser"

bench: $(STAMP)
	$(PY) benchmarks/bench_scorer.py
	$(PY) benchmarks/bench_store.py
	$(PY) benchmarks/bench_tui.py

# 10, 25 and 50 trainees at once through `frontline serve` on PostgreSQL (a few minutes; see the script).
bench-team: $(STAMP)
	$(PY) benchmarks/bench_team.py

validate: $(STAMP)
	$(VENV)/bin/frontline validate scenarios rubrics

schema: $(STAMP)
	$(VENV)/bin/frontline schema --out schemas

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
