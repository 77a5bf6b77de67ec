# Every target bootstraps its own virtualenv from python3: a fresh machine needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test chromium lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray,parquet,bench]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the embedded default (local TikTok API emulation)
	$(BIN)/allocator demo

test: $(STAMP) chromium  ## the whole test suite; fails when no test ran
	$(BIN)/python -m pytest

# The report tests open pages in Debian's chromium (driven by Playwright, never downloaded
# by it). CI runs as root on Debian; elsewhere install the package once by hand.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: $(STAMP)
	$(BIN)/ruff check src tests simulations
	$(BIN)/ruff format --check src tests simulations

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m allocator.bench engine
	$(BIN)/python -m allocator.bench sim
	$(BIN)/python -m allocator.bench bernoulli
	$(BIN)/python -m allocator.bench report
	$(BIN)/python -m allocator.bench startup

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
