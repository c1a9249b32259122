# Two entry points (see README): `make demo` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.deps-installed
# System packages for the tests: libusb (open3d), exiftool (phone-format cross-check), Debian's
# chromium + chromedriver (the editor's and the web viewer's end-to-end browser tests).
APT_PACKAGES := libusb-1.0-0 libimage-exiftool-perl chromium chromium-driver

.PHONY: demo test install lint bench cuda-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first (from the pinned release), then the package without build isolation so the
# native extension compiles against that torch and no second torch is downloaded.
$(STAMP): $(PY) pyproject.toml setup.py
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES) >/dev/null || echo "apt: $(APT_PACKAGES) not all installed (open3d extra; exiftool cross-check; chromium for the editor and web-viewer browser tests)"; fi
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q --no-build-isolation -e ".[dev]"
	$(PIP) install -q "open3d>=0.17" || echo "warning: open3d (optional PLY export) did not install"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/cinemagraph3d demo -o demo.mp4 --force

test: install
	$(PY) -m pytest tests

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/bench_pipeline.py

clean:
	rm -rf build *.egg-info cinemagraph3d/_C*.so
