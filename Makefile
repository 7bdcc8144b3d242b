# Thin wrapper for the README's two commands; meson does the real work.
#   make demo        install deps, build, run the lifecycle demo on the sim backend
#   make check       install deps, build, run every test tier (unit, integration, ASan, Xen)
#   make check-xen   only the real-Xen tier (tests/xen), VMD_XEN_SCENARIO=name picks one
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build demo check check-fast check-asan check-xen clean

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
