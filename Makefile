# liverec: builds and tests through the assembled FFmpeg tree in build/ (DESIGN.md section 1).
#
#   make                 assemble if needed, configure if needed, build build/ffmpeg, build/ffprobe,
#                        build/ffliverec
#   make demo            install what is missing, build, start a local nginx-rtmp origin whose
#                        hooks drive a local ffliverec -serve, push three streams (two with
#                        interruptions, one audio-only) and show what was recorded
#   make check           install what is missing, build, run FATE liverec + the integration tests
#   make fate-liverec    only the FATE tests
#   make bench           the side-by-side benchmarks in tests/bench/
#   make fuzz            the fuzz targets of tests/fuzz/, FUZZ_SECONDS each (default 60)
#   make soak            ffliverec -serve records 50 streams for an hour (tests/soak/run;
#                        LIVEREC_SOAK_STREAMS, LIVEREC_SOAK_SECONDS), not part of make check
#   make install         FFmpeg's install (prefix from ./configure --prefix=...)
#   make clean           remove objects, keep the configuration; make distclean removes build/

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD = build
# ccache hits across clones of the repository (CI builds a fresh clone on the same machine):
# paths relative to the clone, and the build folder left out of the hash (FFmpeg builds with -g)
export CCACHE_BASEDIR = $(CURDIR)
export CCACHE_NOHASHDIR = 1

all: build

# Assembly is checked on every run (cheap); FFmpeg's configure runs again only when the assembly
# changed or it never ran. Then upstream's make decides what to rebuild.
configured:
	@liverec/assemble -q
	@if [ ! -f $(BUILD)/ffbuild/config.mak ] || [ $(BUILD)/.liverec-assembled -nt $(BUILD)/ffbuild/config.mak ]; then \
	    ./configure --reconfigure || exit 1; \
	fi

build: configured
	@$(MAKE) --no-print-directory -C $(BUILD) -j$(JOBS)

deps:
	@liverec/install-deps

fate-liverec: build
	@$(MAKE) --no-print-directory -C $(BUILD) -j$(JOBS) fate-liverec

check: deps
	@$(MAKE) --no-print-directory build
	@tests/liverec/run-all

demo: deps
	@$(MAKE) --no-print-directory build
	@liverec/demo

bench: build
	@tests/bench/run

# every fuzz target for FUZZ_SECONDS each (default 60); make check runs them 10 s each
fuzz: deps
	@$(MAKE) --no-print-directory build
	@tests/fuzz/build && tests/fuzz/run

soak: deps
	@$(MAKE) --no-print-directory build
	@tests/soak/run

install: build
	@$(MAKE) --no-print-directory -C $(BUILD) install

clean:
	@if [ -f $(BUILD)/Makefile ]; then $(MAKE) --no-print-directory -C $(BUILD) clean; fi

distclean:
	rm -rf $(BUILD)

.PHONY: all configured build deps fate-liverec check demo bench fuzz soak install clean distclean
