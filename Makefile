# ledsock: `make run` serves the LED, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test screenshot clean

run: $(VENV)/.run-deps
	$(PY) app.py

test: $(VENV)/.test-deps
	@$(call ensure_debian_package,chromium,chromium)
	$(PY) -m pytest

screenshot: $(VENV)/.test-deps
	@$(call ensure_debian_package,chromium,chromium)
	$(PY) tools/screenshot.py

clean:
	rm -rf $(VENV) .pytest_cache

$(PY):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "make: $(PYTHON) cannot create virtual environments; installing Debian's python3-venv"; \
	  $(call apt_install,python3-venv); }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(VENV)/.test-deps: requirements-test.txt requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-test.txt
	@touch $@ $(VENV)/.run-deps

# $(call apt_install,PACKAGE): install a Debian package as root or with passwordless sudo,
# or stop with the command a person should run.
define apt_install
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
	  echo "make: cannot install $(1) without root: run 'sudo apt-get install --no-install-recommends $(1)' and try again" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "make: no apt-get here: install $(1) with your system's package manager" >&2; exit 1; }; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $(1) >/dev/null \
	  || { echo "make: installing $(1) failed: run 'sudo apt-get install --no-install-recommends $(1)' and try again" >&2; exit 1; }
endef

# $(call ensure_debian_package,COMMAND,PACKAGE): install PACKAGE when COMMAND is missing.
define ensure_debian_package
	command -v $(1) >/dev/null 2>&1 || { echo "make: $(1) is missing; installing Debian's $(2)"; $(call apt_install,$(2)); }
endef
