# The two commands of README.md:  `make run`  and  `make test`.
# Each creates .venv with the machine's python3 and installs what it needs from PyPI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-slow test-explore lint screenshot docs notebooks clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## run: the main job on the built-in CDNOW data -> reports/cdnow/ (open report.html)
run: $(BIN)/.installed
	$(BIN)/clvmodels fit configs/cdnow.yaml

## test: the whole default test suite (slow-marked tests excluded; see test-slow), on
## TEST_WORKERS processes (pytest-xdist; 0 runs it in this process)
TEST_WORKERS ?= 2
test: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

test-slow: $(BIN)/.installed-dev
	$(BIN)/python -m pytest -m slow

## test-explore: the suite with fresh random property-test examples (repeat it to hunt bugs)
test-explore: $(BIN)/.installed-dev
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest

## screenshot: refresh reports/report_screenshot.png (needs chromium + chromium-driver)
screenshot: $(BIN)/.installed-dev
	CLVMODELS_SCREENSHOT=1 $(BIN)/python -m pytest tests/test_report_browser.py

## notebooks: write notebooks/*.ipynb from scripts/make_notebooks.py, execute and store them
notebooks: $(BIN)/.installed-dev
	$(BIN)/python scripts/make_notebooks.py

## docs: the documentation site -> site/ (open site/index.html); warnings are errors
docs: $(BIN)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build site *.egg-info
