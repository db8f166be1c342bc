# mesalens: `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= demo-out

.PHONY: install test lint demo bench clean postgres-start postgres-stop chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench,demo]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check api pipeline connectors reports tests bench
	$(BIN)/ruff format --check api pipeline connectors reports tests bench

# The connector tests read from a real PostgreSQL server: `make test` starts one
# (installing PostgreSQL from Debian's packages if needed) and points the tests at it.
MESALENS_TEST_POSTGRES_URL ?= postgresql+psycopg://mesalens:mesalens@127.0.0.1:54329/mesalens

postgres-start:
	bash scripts/postgres.sh start

postgres-stop:
	bash scripts/postgres.sh stop

# The HTML report tests open report.html in a headless Chromium: Debian's
# package (installed here when missing; root needed for that).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "Chromium is not installed; install it (Debian: apt-get install chromium) or run as root" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	}

test: $(STAMP) lint postgres-start chromium
	MESALENS_TEST_POSTGRES_URL='$(MESALENS_TEST_POSTGRES_URL)' $(BIN)/python -m pytest -n 2 -q

# The whole pipeline on agent logs (no argument, no network): simulated ones and
# Q-learning agents in gymnasium's FrozenLake, as Parquet shards; discovery,
# the check and result.json per scenario; then
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
	@echo "demo outputs are in $(OUT)/ (logs/, one folder per scenario, examples/); open the reports:" $(OUT)/*/report.html

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_listing.py
	$(BIN)/python bench/bench_dense.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis $(OUT)

# One check on log dumps, e.g.
#   make check TRAIN='logs/train/*.parquet' DEPLOY='logs/deploy/*.parquet' \
#        BASE=true_reward MESA=value DECISION=action [POLICY=obs_x,obs_y] [OUT=check-out]
# and every check of a job file, with the run history, index.html and mesalens.log in OUT:
#   make nightly CONFIG=jobs.toml [OUT=nightly-out]
# The recipe fails with mesalens' exit code (make prints "Error N"; make itself
# then exits 2): 8 all but not confirmed by the logs, 3 some, 4 none,
# 5 invalid, 1 bad input; for nightly also
# 6 a verdict changed and 7 another run of a check is in progress. Schedulers
# that act on the exact code should call .venv/bin/mesalens directly.
.PHONY: check nightly
CHECK_OUT   := $(if $(filter file,$(origin OUT)),check-out,$(OUT))
NIGHTLY_OUT := $(if $(filter file,$(origin OUT)),nightly-out,$(OUT))
# The recipes read the values from the environment ("$$TRAIN"), so a path
# with a quote, a space or a glob reaches mesalens as given.
export TRAIN DEPLOY BASE MESA DECISION POLICY CONFIG CHECK_OUT NIGHTLY_OUT

check: $(STAMP)
	@missing=""; \
	for v in TRAIN=$(if $(TRAIN),x) DEPLOY=$(if $(DEPLOY),x) BASE=$(if $(BASE),x) \
	         MESA=$(if $(MESA),x) DECISION=$(if $(DECISION),x); do \
	  case $$v in *=) missing="$$missing $${v%=}" ;; esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make check: missing$$missing; usage: make check TRAIN='logs/train/*.parquet'" \
	    "DEPLOY='logs/deploy/*.parquet' BASE=COL MESA=COL DECISION=COL" \
	    "[POLICY=keep|none|A,B] [OUT=check-out]" >&2; \
	  exit 2; \
	fi
	$(BIN)/mesalens run --regime "train=$$TRAIN" --regime "deploy=$$DEPLOY" \
	  --base "$$BASE" --mesa "$$MESA" --decision "$$DECISION" \
	  $${POLICY:+--policy-inputs "$$POLICY"} --out "$$CHECK_OUT"

nightly: $(STAMP)
	@if [ -z "$(CONFIG)" ]; then \
	  echo "make nightly: missing CONFIG; usage: make nightly CONFIG=jobs.toml [OUT=nightly-out]" >&2; \
	  exit 2; \
	fi
	$(BIN)/mesalens run --config "$$CONFIG" --out "$$NIGHTLY_OUT"
