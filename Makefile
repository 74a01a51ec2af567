# sintersim developer targets. `make demo` and `make test` install what they need first.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .install.stamp

.PHONY: install demo test test-slow lint format bench clean experiments experiments-check

$(STAMP): pyproject.toml
	$(PIP) install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m sintersim demo --out out/demo

# Every committed experiment output (experiments/*/out/), regenerated in place by the commands of
# scripts/run_experiments.py (the five seed experiments at their reduced setting, each of which
# takes --full for the paper-sized run (GPU) and --smoke for its smallest setting; orientation
# --quick; packings, fit_seed001, surface_melting); prints each script's wall time.
experiments: $(STAMP)
	$(PYTHON) scripts/run_experiments.py

# The same commands into out/experiments-check/, then their tables compared with the committed
# ones within the tolerances of scripts/compare_experiments.py (wall times ignored).
EXPERIMENTS_CHECK ?= out/experiments-check
experiments-check: $(STAMP)
	$(PYTHON) scripts/run_experiments.py --out-root $(EXPERIMENTS_CHECK) --times $(EXPERIMENTS_CHECK)/times.md
	$(PYTHON) scripts/compare_experiments.py --fresh $(EXPERIMENTS_CHECK)

lint: $(STAMP)
	$(PYTHON) -m ruff check sintersim tests scripts experiments
	$(PYTHON) -m ruff format --check sintersim tests scripts experiments

format: $(STAMP)
	$(PYTHON) -m ruff format sintersim tests scripts experiments
	$(PYTHON) -m ruff check --fix sintersim tests scripts experiments

# pytest exit code 5 (no tests collected) is a failure here: a suite that runs nothing must not pass.
# Two workers (CI has 2 cores), each test file on one worker; the jaxtyping annotations are checked
# at run time (pyproject.toml addopts).
test: lint
	$(PYTHON) -m pytest -q -n 2 --dist loadfile tests

test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -m slow tests

bench: $(STAMP)
	$(PYTHON) scripts/bench.py

clean:
	rm -rf out $(STAMP) .pytest_cache
