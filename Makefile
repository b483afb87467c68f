# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo demo-cli test lint typecheck pytest bench bench-gui screenshot frozen deb extension extension-tools clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "fetchq needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools warns about editable installs on every build; a newcomer's terminal stays clean.
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

demo: $(STAMP)  ## open the app with a local server, sample files and downloads queued
	$(BIN)/python -m fetchq_gui --demo

demo-cli: $(STAMP)  ## the reference example in the terminal, against a local server
	$(BIN)/python -m fetchq --demo

test: lint typecheck pytest  ## ruff, mypy --strict and the whole test suite

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## throughput against curl, wget2 and aria2c, issue 25's verdicts (BENCH_ARGS="--scenarios C,Cs,Ch2 --runs 3")
	bench/run.sh $(BENCH_ARGS)

bench-gui: $(STAMP)  ## GUI-thread latency, 10,000 rows and 200 active https downloads (GUI_ARGS="--rows 1000 --active 50")
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/gui_latency.py $(GUI_ARGS)

screenshot: $(STAMP)  ## docs/screenshot.png: the window in the middle of the demo
	$(BIN)/python -m fetchq_gui --demo --screenshot docs/screenshot.png

frozen: $(STAMP)  ## build/dist/fetchq: the one-folder app (PyInstaller), from an installed copy
	rm -rf build/site build/dist
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --no-deps --target build/site .
	FETCHQ_BUILD_SITE=build/site PYTHONPATH=build/site:$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	  $(BIN)/python -S -m PyInstaller --noconfirm --log-level WARN --distpath build/dist --workpath build/pyinstaller packaging/fetchq.spec
	@du -sh build/dist/fetchq

deb: frozen  ## build/fetchq_VERSION_ARCH.deb from the frozen app (Debian, Ubuntu)
	packaging/build-deb.sh build/dist/fetchq build $$($(BIN)/python -c 'import fetchq; print(fetchq.__version__)')

extension:  ## packaging/browser/build: the extension for Chromium and Firefox (unpacked, and store zips)
	$(PYTHON) packaging/browser/build.py

extension-tools:  ## the extension's checkers for `make test` (web-ext, TypeScript; needs npm)
	npm ci --prefix packaging/browser --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache packaging/browser/build
