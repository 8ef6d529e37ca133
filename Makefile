# Two commands on a fresh machine with Python 3.11, make and npm:
#   make demo   set up, then serve the simulated demo lab on 127.0.0.1
#   make test   set up, then lint, type-check and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Extras to install; CI adds `bo` (Ax and BayBE optimizers) so their tests are required there.
EXTRAS ?= dev
comma := ,
PY_STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
VENDOR := src/labdeck/web/static/vendor
VENDOR_FILES := node_modules/htmx.org/dist/htmx.min.js \
	node_modules/echarts/dist/echarts.min.js \
	node_modules/sortablejs/Sortable.min.js \
	node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	node_modules/swagger-ui-dist/swagger-ui.css
ASSET_STAMP := $(VENDOR)/.copied

.PHONY: setup demo test lint bench clean

setup: $(PY_STAMP) $(ASSET_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	case ",$(EXTRAS)," in *,bo,*) $(BIN)/python -m pip install --quiet torch==2.13.0 ;; esac
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(ASSET_STAMP): node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp $(VENDOR_FILES) $(VENDOR)/
	touch $@

demo: setup
	$(BIN)/labdeck demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/direct_calls.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
