# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The home `sealer-fsm ... -c machines/devnet.toml` uses without --home (var/<worker name>), so that
# `sectors list -c machines/devnet.toml` reads what `make run` wrote.
HOME_DIR ?= var/devnet

.PHONY: run test lint bench diagrams clean

$(BIN)/sealer-fsm: pyproject.toml $(wildcard setup.py)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(BIN)/sealer-fsm
	rm -rf $(HOME_DIR)
	$(BIN)/sealer-fsm run -c machines/devnet.toml --home $(HOME_DIR) --sectors 8

test: $(BIN)/sealer-fsm
	$(BIN)/ruff check .
	$(BIN)/python -m mypy --strict sealer_fsm
	$(BIN)/python -m pytest -q

bench: $(BIN)/sealer-fsm
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

diagrams: $(BIN)/sealer-fsm
	$(BIN)/sealer-fsm plan diagram --all -o docs/plans

clean:
	rm -rf $(VENV) var build *.egg-info
