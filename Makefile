# Bình Yên — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench clean chromium office postgres

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files so that a change to pyproject.toml reinstalls.
$(VENV)/.installed: pyproject.toml $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The browser tests (tests/browser) drive Debian's Chromium, never a browser that Playwright
# downloads. Installed only when none is found: BINHYEN_CHROMIUM, or chromium on the PATH.
chromium:
	@if [ -z "$$BINHYEN_CHROMIUM" ] && ! command -v chromium >/dev/null; then \
	  set -x; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

# The documents' tests convert the workbook and the Word report to PDF with LibreOffice and
# read them back with poppler's pdftotext; Liberation Serif stands in for Times New Roman
# (same metrics, Vietnamese glyphs). Installed from Debian only when missing.
office:
	@if ! command -v soffice >/dev/null || ! command -v pdftotext >/dev/null \
	    || ! fc-list 2>/dev/null | grep -qi "Liberation Serif"; then \
	  set -x; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    libreoffice-writer-nogui libreoffice-calc-nogui poppler-utils fonts-liberation2; \
	fi

# The storage tests run against PostgreSQL too: each run starts a throwaway cluster of its
# own (tests/postgres.py, initdb in a temporary folder) from Debian's server package,
# installed only when missing, without the package's own "main" cluster.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  set -x; \
	  $(SUDO) mkdir -p /etc/postgresql-common/createcluster.d && \
	  echo 'create_main_cluster = false' | \
	    $(SUDO) tee /etc/postgresql-common/createcluster.d/binhyen.conf >/dev/null && \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    postgresql; \
	fi

run: $(VENV)/.installed
	$(BIN)/binhyen run

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check bot handlers storage locales tests

test: lint chromium office postgres
	$(BIN)/pytest

# Every benchmark, one table, tests/bench/results.json (about 15 minutes at full size;
# `make bench BENCH_FLAGS=--quick` scales the preloads down for a quick look).
BENCH_FLAGS ?=
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.bench $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
