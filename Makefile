# mesalens: `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= demo-out

.PHONY: install test lint demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check pipeline connectors reports tests bench

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -q

demo: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/mesalens check-graph --example coinrun --json $(OUT)/coinrun.json; \
	  echo "exit code $$? (0 all, 3 some, 4 none, 5 invalid)"
	@echo "demo outputs in $(OUT)/"

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_listing.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis $(OUT)
