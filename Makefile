# Thin wrapper for the README's two commands; meson does the real work.
#   make demo        install deps, build, run the lifecycle demo on the sim backend
#   make check       install deps, build, run every test tier (unit, integration, ASan, Xen)
#   make check-xen   only the real-Xen tier (tests/xen), VMD_XEN_SCENARIO=name picks one
#   make bench       the benchmarks of tests/bench (release build; figures, nothing asserted)
#   make bench-xen   vmctl stats / metrics with 100 guests against xentop, on real Xen
#   make soak        the soak test for half an hour (make check runs it for a minute)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
REL_BUILD ?= build-release

.PHONY: all deps build demo check check-fast check-asan check-xen fuzz bench bench-xen soak clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@sh scripts/demo.sh $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

check: build $(ASAN_BUILD)/build.ninja
	@sh scripts/check.sh $(BUILD) $(ASAN_BUILD)

check-fast: build
	meson test -C $(BUILD) --print-errorlogs

check-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --print-errorlogs

check-xen: build
	bash tests/xen/run.sh $(BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Dlibxl=disabled -Dxen_tests=false \
		-Db_sanitize=address,undefined -Db_lundef=false

$(REL_BUILD)/build.ninja:
	meson setup $(REL_BUILD) --buildtype=release

# Scale and request rates against their references (virsh from libvirt-clients for the
# listing), clone copies against cp, vmctl -H ssh:// against ssh host vmctl.
bench: deps $(REL_BUILD)/build.ninja
	ninja -C $(REL_BUILD)
	@command -v virsh >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends libvirt-clients >/dev/null
	python3 tests/bench/scale --build $(REL_BUILD)
	python3 tests/bench/clone --vmd $(REL_BUILD)/daemon/vmd
	python3 tests/bench/remote --build $(REL_BUILD)

# vmctl stats / metrics with 100 guests against xentop, on real Xen under QEMU (~32 min,
# 12 GiB for QEMU).
bench-xen: deps $(REL_BUILD)/build.ninja
	ninja -C $(REL_BUILD)
	sh tests/bench/xen-stats $(REL_BUILD)

SOAK_SECONDS ?= 1800
soak: build
	VMD_SOAK_SECONDS=$(SOAK_SECONDS) /usr/bin/python3 tests/integration/test_soak.py \
		--vmd $(BUILD)/daemon/vmd

# libFuzzer on the request path and the config parsers, FUZZ_SECONDS each.
fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(REL_BUILD)
