# ledsock: `make run` serves the LED, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LOCK_VENV  := .venv-lock
UV_VERSION := 0.13.9
UV_COMPILE := $(LOCK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
  --generate-hashes --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

# What the tests run besides Python, as CHECK=DEBIAN_PACKAGE (CHECK: a command or a file).
TEST_TOOLS := chromium=chromium mcs=mono-mcs mono=mono-runtime \
  /usr/lib/mono/4.5/System.Runtime.Serialization.dll=libmono-system-runtime-serialization4.0-cil \
  jq=jq curl=curl /usr/sbin/mosquitto=mosquitto mosquitto_sub=mosquitto-clients systemd-analyze=systemd

.PHONY: run test check test-tools bench coverage screenshot lock clean install uninstall

run: $(VENV)/.run-deps
	$(PY) app.py

# The habits that catch mistakes (a few seconds), then every test: first the few that time
# real work in real time (marked alone), one at a time, then the rest side by side.
test: check test-tools
	$(PY) -m pytest -m alone -n 0
	$(PY) -m pytest -m "not alone"

# The linter and the formatter (ruff), the type checker (mypy), the import contracts
# (.importlinter and tools/lint_imports.py): pyproject.toml has their settings.
check: $(VENV)/.test-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tools/lint_imports.py

# Every test under coverage.py, the service processes the tests start included; prints the
# line and branch coverage of the service's modules (CONTRIBUTING.md, "Coverage").
coverage: $(VENV)/.test-deps test-tools
	rm -f .coverage .coverage.*
	$(PY) -m coverage run -m pytest -n 0 -q
	$(PY) -m coverage combine -q
	$(PY) -m coverage report

# Installs the missing ones (as root or with passwordless sudo), or stops saying how to.
test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do check=$${pair%%=*}; package=$${pair#*=}; \
	  command -v "$$check" >/dev/null 2>&1 || [ -e "$$check" ] || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: the tests need Debian packages that are missing:$$missing"; \
	  $(call apt_install,$$missing); fi

# The fan-out benchmark against the textbook and asyncio reference servers, what a light more
# costs, the fleet on one broker, and each attack of docs/security.md beside the same minute without it (not part of
# make test). Figures: bench/results/*.json and docs/performance.png.
bench: $(VENV)/.bench-deps test-tools
	cd bench && ../$(PY) fanout.py
	cd bench && ../$(PY) plot.py
	cd bench && ../$(PY) lights.py
	cd bench && ../$(PY) fleet.py
	cd bench && ../$(PY) attack.py

screenshot: $(VENV)/.test-deps test-tools
	$(PY) tools/screenshot.py

# `sudo make install`: the service under $(PREFIX) with its own locked venv, a system user
# in the gpio group, the systemd unit enabled and started. Again: upgrades in place, keeping
# the state (/var/lib/ledsock). DESTDIR=DIR installs the files under DIR alone (no user,
# no systemctl), for packaging and the tests.
PREFIX ?= /opt/ledsock
SERVICE_USER := ledsock
UNIT_DIR ?= /etc/systemd/system
# The service's packages (README, "How it is built"), installed beside app.py, led.py and protocol.py.
PACKAGES := lamp curves messages boards broadcast doors serving limits adapters
INSTALLED_FILES := *.py $(PACKAGES) requirements.txt README.md templates static docs deploy

install:
	@[ -n "$(DESTDIR)" ] || [ "$$(id -u)" = 0 ] || { echo "make install: run it as root: sudo make install" >&2; exit 1; }
	@echo "make install: ledsock into $(DESTDIR)$(PREFIX)"
	mkdir -p $(DESTDIR)$(PREFIX) $(DESTDIR)$(UNIT_DIR)
	rm -rf $(addprefix $(DESTDIR)$(PREFIX)/,templates static docs deploy $(PACKAGES))
	cp -R $(INSTALLED_FILES) $(DESTDIR)$(PREFIX)/
	git describe --tags --always --dirty > $(DESTDIR)$(PREFIX)/VERSION 2>/dev/null || echo unknown > $(DESTDIR)$(PREFIX)/VERSION
	find $(DESTDIR)$(PREFIX) -path $(DESTDIR)$(PREFIX)/.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	[ -x $(DESTDIR)$(PREFIX)/.venv/bin/python ] || $(PYTHON) -m venv $(DESTDIR)$(PREFIX)/.venv
	$(DESTDIR)$(PREFIX)/.venv/bin/python -m pip install --disable-pip-version-check -q --require-hashes \
	  -r $(DESTDIR)$(PREFIX)/requirements.txt \
	  || { echo "make install: could not install requirements.txt into $(PREFIX)/.venv (see pip's message above)" >&2; exit 1; }
	sed 's|@PREFIX@|$(PREFIX)|g' deploy/ledsock.service > $(DESTDIR)$(UNIT_DIR)/ledsock.service
	@if [ -z "$(DESTDIR)" ]; then \
	  getent group gpio >/dev/null || groupadd --system gpio; \
	  id $(SERVICE_USER) >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin $(SERVICE_USER); \
	  usermod -aG gpio $(SERVICE_USER); \
	  systemctl daemon-reload && systemctl enable ledsock && systemctl restart ledsock \
	    && echo "make install: ledsock is running: journalctl -u ledsock -f" \
	    || { echo "make install: the service did not start: journalctl -u ledsock" >&2; exit 1; }; \
	fi

# Removes everything make install made but the saved state (/var/lib/ledsock).
uninstall:
	@[ -n "$(DESTDIR)" ] || [ "$$(id -u)" = 0 ] || { echo "make uninstall: run it as root: sudo make uninstall" >&2; exit 1; }
	@if [ -z "$(DESTDIR)" ]; then systemctl disable --now ledsock 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(UNIT_DIR)/ledsock.service
	rm -rf $(DESTDIR)$(PREFIX)
	@if [ -z "$(DESTDIR)" ]; then systemctl daemon-reload; userdel $(SERVICE_USER) 2>/dev/null || true; \
	  echo "make uninstall: done; the saved state is kept in /var/lib/ledsock"; fi

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache LedClient.exe .coverage .coverage.*

$(PY):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "make: $(PYTHON) cannot create virtual environments; installing Debian's python3-venv"; \
	  $(call apt_install, python3-venv); }
	$(PYTHON) -m venv $(VENV)

# Each lock is a whole closure, pinned and hashed: pip installs exactly it or stops.
$(VENV)/.run-deps: requirements.txt | $(PY)
	$(call pip_install_lock,requirements.txt)
	@touch $@

$(VENV)/.test-deps: requirements-test.txt requirements.txt | $(PY)
	$(call pip_install_lock,requirements-test.txt)
	@touch $@ $(VENV)/.run-deps

$(VENV)/.bench-deps: requirements-bench.txt requirements-test.txt requirements.txt | $(PY)
	$(call pip_install_lock,requirements-bench.txt)
	@touch $@ $(VENV)/.run-deps

# The locks, made from the *.in files by uv (pinned here, in a venv of its own). Pins already
# in a lock are kept unless an .in file asks otherwise; `make lock UPGRADE=1` takes the newest.
lock: $(LOCK_VENV)/bin/uv
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-test.in -o requirements-test.txt
	$(UV_COMPILE) requirements-bench.in -o requirements-bench.txt

$(LOCK_VENV)/bin/uv:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --disable-pip-version-check -q uv==$(UV_VERSION)

# $(call pip_install_lock,LOCK): install a lock into .venv with its hashes, then check that
# every installed package has what it declares; either failing stops make, saying why.
define pip_install_lock
	@echo "make: installing $(1) into $(VENV) (pinned, hash-checked)"
	@$(PY) -m pip install --disable-pip-version-check -q --require-hashes -r $(1) \
	  || { echo "make: could not install $(1) into $(VENV) (see pip's message above); if a lock is stale, run 'make lock'" >&2; exit 1; }
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; \
	  echo "make: $(VENV) has broken or missing dependencies (above); run 'make clean' and try again, or 'make lock' if a lock is stale" >&2; exit 1; }
endef

# $(call apt_install,PACKAGE): install a Debian package as root or with passwordless sudo,
# or stop with the command a person should run.
define apt_install
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
	  echo "make: cannot install$(1) without root: run 'sudo apt-get install --no-install-recommends $(1)' and try again" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "make: no apt-get here: install $(1) with your system's package manager" >&2; exit 1; }; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $(1) >/dev/null \
	  || { echo "make: installing $(1) failed: run 'sudo apt-get install --no-install-recommends $(1)' and try again" >&2; exit 1; }
endef
