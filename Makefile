# mesalens: `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= demo-out

.PHONY: install test lint demo bench clean postgres-start postgres-stop

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check pipeline connectors reports tests bench

# The connector tests read from a real PostgreSQL server: `make test` starts one
# (installing PostgreSQL from Debian's packages if needed) and points the tests at it.
MESALENS_TEST_POSTGRES_URL ?= postgresql+psycopg://mesalens:mesalens@127.0.0.1:54329/mesalens

postgres-start:
	bash scripts/postgres.sh start

postgres-stop:
	bash scripts/postgres.sh stop

test: $(STAMP) lint postgres-start
	MESALENS_TEST_POSTGRES_URL='$(MESALENS_TEST_POSTGRES_URL)' $(BIN)/python -m pytest -n 2 -q

# The whole pipeline on simulated agent logs (no argument, no network): logs
# as Parquet shards, discovery, the check and result.json per scenario; then
# every built-in example graph through check-graph. A verdict is not a failure
# (check-graph exits 0 all, 3 some, 4 none, 5 invalid); anything else (1 bad
# input, 2 usage, a crash) fails the target.
demo: $(STAMP)
	$(BIN)/mesalens demo --out $(OUT)
	mkdir -p $(OUT)/examples
	@names=$$($(BIN)/mesalens examples --names) || exit 1; \
	for ex in $$names; do \
	  $(BIN)/mesalens check-graph --example $$ex --json $(OUT)/examples/$$ex.json --quiet; code=$$?; \
	  case $$code in \
	    0|3|4|5) echo "example $$ex: exit code $$code (0 all, 3 some, 4 none, 5 invalid): $(OUT)/examples/$$ex.json" ;; \
	    *) echo "example $$ex: mesalens failed with exit code $$code" >&2; exit 1 ;; \
	  esac; \
	done
	@echo "demo outputs are in $(OUT)/ (logs/, one folder per scenario, examples/)"

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_listing.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis $(OUT)
