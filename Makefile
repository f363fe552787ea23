# ledsock: `make run` serves the LED, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

# What the tests run besides Python, as CHECK=DEBIAN_PACKAGE (CHECK: a command or a file).
TEST_TOOLS := chromium=chromium mcs=mono-mcs mono=mono-runtime \
  /usr/lib/mono/4.5/System.Runtime.Serialization.dll=libmono-system-runtime-serialization4.0-cil \
  jq=jq curl=curl

.PHONY: run test test-tools bench screenshot clean

run: $(VENV)/.run-deps
	$(PY) app.py

test: $(VENV)/.test-deps test-tools
	$(PY) -m pytest

# Installs the missing ones (as root or with passwordless sudo), or stops saying how to.
test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do check=$${pair%%=*}; package=$${pair#*=}; \
	  command -v "$$check" >/dev/null 2>&1 || [ -e "$$check" ] || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: the tests need Debian packages that are missing:$$missing"; \
	  $(call apt_install,$$missing); fi

# The fan-out benchmark against the textbook and asyncio reference servers (about 8 min;
# not part of make test). Figures: bench/results/latest.json and docs/performance.png.
bench: $(VENV)/.bench-deps
	cd bench && ../$(PY) fanout.py
	cd bench && ../$(PY) plot.py

screenshot: $(VENV)/.test-deps test-tools
	$(PY) tools/screenshot.py

clean:
	rm -rf $(VENV) .pytest_cache

$(PY):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "make: $(PYTHON) cannot create virtual environments; installing Debian's python3-venv"; \
	  $(call apt_install, python3-venv); }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(VENV)/.test-deps: requirements-test.txt requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-test.txt
	@touch $@ $(VENV)/.run-deps

$(VENV)/.bench-deps: requirements-bench.txt requirements-test.txt requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-test.txt -r requirements-bench.txt
	@touch $@ $(VENV)/.run-deps

# $(call apt_install,PACKAGE): install a Debian package as root or with passwordless sudo,
# or stop with the command a person should run.
define apt_install
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
	  echo "make: cannot install$(1) without root: run 'sudo apt-get install --no-install-recommends $(1)' and try again" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "make: no apt-get here: install $(1) with your system's package manager" >&2; exit 1; }; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $(1) >/dev/null \
	  || { echo "make: installing $(1) failed: run 'sudo apt-get install --no-install-recommends $(1)' and try again" >&2; exit 1; }
endef
