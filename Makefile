# Hài Lòng: make install | make demo | make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test soak bench storm national bundle arm64 arm64-clean screenshots voices clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,server,admin]'
	touch $@

# The whole system: a central server (SQLite under var/) in the background, a
# terminal enrolled with it, the kiosk window with mock pins (keys 1-9, 0).
demo: install
	BIN=$(BIN) bash deploy/demo.sh

test: install
	$(BIN)/python -m pytest

# The long versions of the reliability suites (CI runs their short versions in `make test`);
# then the README's Reliability table from the figures they recorded.
soak: install
	HAILONG_SOAK=1 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -p no:cacheprovider -m reliability tests
	$(BIN)/python bench/reliability_table.py --mode soak

bench: install
	$(BIN)/python bench/press_latency.py
	$(BIN)/python bench/counter_latency.py
	$(BIN)/python bench/ui_latency.py
	$(BIN)/python bench/counter_frame.py
	$(BIN)/python bench/badge_scan.py
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/sync_drain.py
	$(BIN)/python bench/ui_sync.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/pull.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/counter_report.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/accounts_reach.py
	$(BIN)/python bench/voice_memory.py
	$(BIN)/python bench/settings_rollout.py

# Overload and the reconnect storm (issue 14), not in `make bench` (about half an hour): the fleet load at 1.5x and
# 3x the capacity it finds, then 1,000 real uploaders with 500 pending ratings each coming back within 60 s.
storm: install
	$(BIN)/python bench/fleet.py --overload 1.5,3
	$(BIN)/python bench/reconnect_storm.py --backend both
	$(BIN)/python bench/reconnect_storm.py --backend postgresql --replicas 2

# National scale (issue 11): 34 provinces, 10,000 terminals, 20 million ratings on PostgreSQL; loading takes
# a long while, so the cluster is kept in var/national-pg and reused by the next run (delete it to load again).
national: install
	$(BIN)/python bench/national.py --keep var/national-pg

# One-folder PyInstaller bundle of the terminal: dist/kiosk/kiosk (see kiosk.spec).
bundle: install
	$(BIN)/pyinstaller kiosk.spec --noconfirm
	touch dist/kiosk/kiosk  # built now: tests/test_bundle.py rebuilds only when a source is newer

# The Raspberry Pi build (arm64), made here under qemu-user emulation: a cached Debian bookworm arm64 root
# (/var/tmp/hai-long-arm64), '.[pi]' installed in it, the terminal's tests there, `make bundle` inside, the
# aarch64 bundle run headless until it stores a press; gives dist/aarch64/kiosk. Needs root; see the README.
arm64:
	bash deploy/arm64/build.sh

arm64-clean:
	bash deploy/arm64/build.sh --clean

# The default spoken prompts (assets/voice/, committed): after changing a text on the screens, run this
# and commit the result. Needs espeak-ng (Debian: apt install espeak-ng); building the terminal does not.
voices: install
	$(BIN)/python assets/make_voices.py

# The README's pictures, made by the tests: the terminal's screens (800x480) and the dashboard.
screenshots: install
	$(BIN)/python -m pytest -q tests/test_ui.py tests/test_access.py -k screenshots
	$(BIN)/python -m pytest -q tests/test_ui_counter.py -k screenshots
	$(BIN)/python -m pytest -q tests/test_dashboard_browser.py
	$(BIN)/python -m pytest -q tests/test_official_pdf.py -k rendered
	mkdir -p docs/screens
	for name in home reason thanks service-status service-voice home-officer signin invitation scan-partial home-contrast reason-large reason-warning reason-warning-contrast; do cp tests/output/screens/$$name-800x480.png docs/screens/; done
	for name in overview-desktop fleet-desktop overview-phone; do cp tests/output/dashboard/$$name.png docs/screens/; done
	for name in official-report; do cp tests/output/official/$$name.png docs/screens/; done

clean:
	rm -rf $(VENV) var build dist tests/output
