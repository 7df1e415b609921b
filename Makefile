# Two commands for a newcomer: `make demo` and `make test`. Each creates .venv on first use.
# `make docs` builds the documentation site into build/site (also part of `make test`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint docs bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

demo: install
	$(BIN)/orescope demo --out demo-output

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src

docs: install
	$(BIN)/python docs/tables.py readme README.md --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory docs

bench: install
	$(BIN)/python bench/classical_particles.py
	$(BIN)/python bench/particle_models.py
	$(BIN)/python bench/particle_throughput.py

clean:
	rm -rf $(VENV) demo-output build dist .pytest_cache .ruff_cache
