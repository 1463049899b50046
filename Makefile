# Everyday targets. `make demo` and `make test` do all the set-up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BASE ?= main

.PHONY: setup demo demo-sft test test-all bench lint format schema collect curve report plots plots-diff clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install_torch.sh scripts/setup_data.sh scripts/setup_models.sh scripts/setup_browser.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	scripts/install_torch.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	scripts/setup_data.sh $(BIN)/python
	scripts/setup_models.sh $(BIN)/python
	scripts/setup_browser.sh
	touch $(STAMP)

# curve is in the graph but off (curve.enabled: false): it retrains every approach about ten times (`make curve`).
demo: setup  ## run the whole pipeline on the bundled sample
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@echo
	@echo "Results:"
	@echo "  metrics:  metrics/ (dvc metrics show)"
	@echo "  rejects:  data/*/rejects*.parquet"
	@ls reports/*.md 2>/dev/null | sed 's/^/  report:   /' || true

# The SFT pipeline is its own DVC project folder (sft/dvc.yaml, sft/params.yaml; docs/sft.md).
demo-sft: setup  ## run the SFT (instruction tuning) pipeline on its bundled sample
	cd sft && PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/dvc repro
	@echo
	@echo "Results:"
	@echo "  metrics:  sft/metrics/ (cd sft && dvc metrics show)"
	@echo "  rejects:  sft/data/*/rejects.parquet, conflicts: sft/data/cleaned/conflicts.parquet"

test: setup  ## the default test run (minutes on two cores)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow"

test-all: setup  ## every test, slow ones included
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

bench: setup  ## speed and memory, side by side with the alternatives
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest benchmarks --benchmark-only -s

curve: setup  ## learning curves of every approach on the scratch model (docs/curve.md)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc exp run -S curve.enabled=true curve

collect: setup  ## fetch collect.sources again into a new snapshot; then `dvc repro`
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro --force --single-item collect

report: setup  ## review this branch against BASE (default main): reports/review.md, exit 1 on a regression
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/report.py --base $(BASE) --out reports/review.md

# Vega is inlined in the page (scripts/plots/page.html, set in .dvc/config), so the HTML opens offline.
plots: setup  ## the charts of dvc.yaml's plots: section, offline: dvc_plots/index.html
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc plots show -o dvc_plots
	@echo "open dvc_plots/index.html (no network needed)"

plots-diff: setup  ## the same charts, this workspace against BASE (default main): dvc_plots/index.html
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc plots diff $(BASE) -o dvc_plots
	@echo "open dvc_plots/index.html (no network needed)"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: setup  ## regenerate schemas/params.schema.json after changing a params model
	$(BIN)/python -m schemas --write-json-schema

clean-venv:
	rm -rf $(VENV)
