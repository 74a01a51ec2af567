# sintersim developer targets. `make demo` and `make test` install what they need first.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .install.stamp

.PHONY: install demo test test-slow lint format bench clean experiments

$(STAMP): pyproject.toml
	$(PIP) install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m sintersim demo --out out/demo

# The five seed-paper experiments, reduced versions (CPU, < 20 min); each takes --full for the
# paper-sized run (GPU) and --smoke for its smallest setting (tests/test_experiments.py).
experiments: $(STAMP)
	@for d in experiments/seed00*/; do echo "== $$d"; $(PYTHON) $$d/run.py || exit 1; done

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
