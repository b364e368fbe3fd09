# Hài Lòng: make install | make demo | make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench bundle clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The terminal with mock pins (keys 1-9, 0 drive the buttons), a local
# database under var/ and the demo config.
demo: install
	mkdir -p var
	$(BIN)/kiosk run --config deploy/demo.toml --mock-pins --windowed

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/press_latency.py
	$(BIN)/python bench/ui_latency.py
	$(BIN)/python bench/footprint.py

# One-folder PyInstaller bundle of the terminal: dist/kiosk/kiosk (see kiosk.spec).
bundle: install
	$(BIN)/pyinstaller kiosk.spec --noconfirm

clean:
	rm -rf $(VENV) var build dist tests/output
