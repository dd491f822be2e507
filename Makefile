# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgeq-installed

.PHONY: setup toolchains demo test lint wheel clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compilers and emulators for the tests: host gcc/g++, arm-none-eabi-gcc with newlib for Cortex-M,
# qemu-system-arm for the emulated boards, qemu-user (the dynamic qemu-aarch64, which loads plugins)
# and debootstrap for emulated aarch64 Linux, OpenSSH (client and server: the SSH runner's tests
# start a real sshd on 127.0.0.1), adb, and flatc and kotlinc (the Android export's tests read the
# metadata back with a reader flatc generates and compile the generated Kotlin), and chromium
# (the HTML report's test renders it headless and checks a screenshot).
# Installed with apt-get when missing and this runs as root (CI);
# elsewhere those tests skip with a reason, unless EDGEQ_REQUIRE_TOOLCHAINS=1, when they fail.
# Each entry is tool=package[+package]; --no-install-recommends keeps out the 1.5 GB ARM libstdc++.
TOOLCHAINS := gcc=gcc g++=g++ arm-none-eabi-gcc=gcc-arm-none-eabi+libnewlib-arm-none-eabi \
	qemu-system-arm=qemu-system-arm qemu-aarch64=qemu-user debootstrap=debootstrap \
	ssh=openssh-client ssh-keygen=openssh-client sshd=openssh-server adb=adb \
	flatc=flatbuffers-compiler kotlinc=kotlin chromium=chromium

toolchains:
	@missing=""; for entry in $(TOOLCHAINS); do \
	  command -v $${entry%%=*} >/dev/null || missing="$$missing $$(echo $${entry#*=} | tr + ' ')"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing; \
	  else echo "note: missing$$missing (apt-get install$$missing); tests that need them will skip"; fi; \
	fi

setup: $(STAMP)

demo: setup
	$(BIN)/edgeq demo -o demo-out --force

test: setup toolchains
	$(BIN)/python -m pytest --durations=20

lint: setup
	$(BIN)/ruff check edgeq tests benchmarks datasets tools

# dist/: the sdist, then the wheel built from it, with the set-up's setuptools (no network needed)
wheel: setup
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) demo-out dist .pytest_cache .ruff_cache
