# The two commands of the README: `make test` (everything CI runs, the VM tier included) and
# `make demo` (bootmenu in QEMU on this terminal).
.PHONY: setup test lint unit demo bench bench-efi bench-memory build fuzz

setup:
	bash scripts/setup

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache

unit: setup
	.venv/bin/pytest -q

test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache
	.venv/bin/pytest -q

# Builds build/vmlinuz, build/initramfs.cpio.zst, build/bootmenu.efi (a UKI) and
# build/manifest.json from Debian 12 packages (cached in ~/.cache/bootmenu); see docs/rootfs.md.
build: setup
	.venv/bin/python -m rootfs build

# Builds bootmenu's initramfs (build/) and demo disks (build/demo/), then boots them in QEMU here.
# Ctrl-A X quits QEMU.
demo: setup
	.venv/bin/python -m tests.vm.demo

# Prints speed and size numbers (not a test); see bench/README.md.
bench: setup
	.venv/bin/python -m bench.bench

# Enter → the EFI application's first output: the UEFI payload against BootNext + reset.
bench-efi: setup
	.venv/bin/python -m bench.efi_handoff

# Peak RSS of booting a 500 MiB initrd (read, validate, load into memfds; host only, no VM).
bench-memory: setup
	.venv/bin/python -m bench.image_memory

# Long coverage-guided fuzz campaigns (atheris), one target after the other; see
# tests/fuzz/README.md.  FUZZ_TARGETS empty: all of them.  make test runs a short form.
FUZZ_RUNS ?= 100000
FUZZ_TARGETS ?=
fuzz: setup
	nice -n 10 .venv/bin/python -m tests.fuzz --runs $(FUZZ_RUNS) $(FUZZ_TARGETS)
