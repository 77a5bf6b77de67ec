# Every target bootstraps its own virtualenv from python3: a fresh machine needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-tools lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray,parquet,bench]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the embedded default (local TikTok API emulation)
	$(BIN)/allocator demo

test: $(STAMP) test-tools  ## the whole test suite; fails when no test ran
	$(BIN)/python -m pytest

# Debian packages some tests drive: chromium (the report tests open pages in it through
# Playwright, which never downloads a browser) and faketime (the demo gives the same figures
# on any date). CI runs as root on Debian; elsewhere install the packages once by hand.
test-tools:
	@command -v chromium >/dev/null && command -v faketime >/dev/null || \
		(apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium faketime >/dev/null)

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
