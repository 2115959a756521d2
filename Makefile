# edgefhir — GNU Make build.  `make run` and `make test` are the only commands a user needs;
# both install missing Debian packages first (the `deps` step, a no-op when present).

# Parallel by default: every core (`nproc`), unless the caller chose (-jN on the command line
# or in MAKEFLAGS) or this is a sub-make (it shares its parent's job server).
ifeq ($(MAKELEVEL)$(findstring -j,$(MAKEFLAGS) $(shell printf '%s' "$$MAKEFLAGS")),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

# ccache, when installed, makes rebuilds in several build dirs cheap (not required).
CCACHE   := $(shell command -v ccache 2>/dev/null)
ifeq ($(origin CXX),default)
CXX      := $(CCACHE) g++
endif
BUILD    ?= build
OPT      ?= -O2
SAN      ?=
SKIP     ?=   # development aid: source files to leave out (e.g. a half-written module)
CPPFLAGS += -Isrc -DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_ZLIB_SUPPORT -DCPPHTTPLIB_BROTLI_SUPPORT
CXXFLAGS ?= $(OPT) -g -std=c++17 -Wall -Wextra -Wno-unused-parameter -pthread -MMD -MP $(SAN)
LDFLAGS  += -pthread $(SAN)
LDLIBS   += -lcpp-httplib -lmbedtls -lmbedx509 -lmbedcrypto -lsqlite3 -lz -lpugixml

# Debian packages needed to build, test and benchmark.  chromium: the headless browser of
# tests/e2e/test_browser.py (CORS and the web console).  nodejs + npm run the test OpenID provider
# (tests/oidc; its npm packages are installed by the tests on first run).  A tool package counts
# as present when its command is on PATH (e.g. Node.js from elsewhere): DEB_CMDS maps package:command.
DEB_PKGS := libcpp-httplib-dev libmbedtls-dev libsqlite3-dev picojson-dev libpugixml-dev catch2 zlib1g-dev python3 openssl wrk nodejs npm chromium
DEB_CMDS := python3:python3 openssl:openssl wrk:wrk nodejs:node npm:npm
# Commands `make test` runs; a missing one fails it by name (never a skipped test).
TEST_CMDS := python3 openssl node npm
DEPS_STAMP := $(BUILD)/.deps-ok

LIB_SRC  := $(filter-out $(SKIP),$(shell find src -name '*.cpp' ! -path src/main.cpp | sort))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
TEST_SRC := $(filter-out $(SKIP),$(shell find tests/unit -name '*.cpp' | sort))
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
GEN_DATA := data/search-parameters.tsv data/compartment-patient.tsv data/types.tsv data/terminology.tsv

# Embedded data (issue 6): data/*.tsv -> $(BUILD)/gen/embedded_data.cpp (tools/embed.py), compiled
# into the library so the binary needs no data files at run time.
EMBED_CPP := $(BUILD)/gen/embedded_data.cpp
EMBED_OBJ := $(BUILD)/obj/gen/embedded_data.o
LIB_OBJ  += $(EMBED_OBJ)
# The web console (issue 17): console/* -> $(BUILD)/gen/console_assets.cpp (tools/embed_assets.py).
CONSOLE_FILES := $(sort $(wildcard console/*.html console/*.css console/*.js console/*.svg))
CONSOLE_CPP := $(BUILD)/gen/console_assets.cpp
CONSOLE_OBJ := $(BUILD)/obj/gen/console_assets.o
LIB_OBJ  += $(CONSOLE_OBJ)

.PHONY: all deps test unit e2e run bench clean test-asan fuzz fuzz-build certs test-tools
all: $(BUILD)/edgefhir

deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	@missing=""; for p in $(DEB_PKGS); do \
	  c=$$(for m in $(DEB_CMDS); do [ "$${m%%:*}" = $$p ] && echo "$${m#*:}"; done); \
	  if [ -n "$$c" ] && command -v $$c >/dev/null 2>&1; then continue; fi; \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(EMBED_CPP): $(GEN_DATA) tools/embed.py
	@mkdir -p $(dir $@)
	python3 tools/embed.py -o $@ $(GEN_DATA)

$(EMBED_OBJ): $(EMBED_CPP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(CONSOLE_CPP): $(CONSOLE_FILES) tools/embed_assets.py tools/embed.py
	@mkdir -p $(dir $@)
	python3 tools/embed_assets.py -o $@ $(CONSOLE_FILES)

$(CONSOLE_OBJ): $(CONSOLE_CPP) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libedgefhir.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/edgefhir: $(BUILD)/obj/src/main.o $(BUILD)/libedgefhir.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit_tests: $(TEST_OBJ) $(BUILD)/libedgefhir.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

test-tools: $(DEPS_STAMP)
	@missing=""; for c in $(TEST_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then echo "make test: missing tool(s):$$missing (Debian packages: make deps; nodejs + npm for node/npm)" >&2; exit 1; fi

e2e: $(BUILD)/edgefhir test-tools
	EDGEFHIR_BIN=$(BUILD)/edgefhir python3 tests/e2e/run.py

test: $(BUILD)/unit_tests $(BUILD)/edgefhir test-tools
	python3 tools/check_layers.py
	$(BUILD)/unit_tests
	EDGEFHIR_BIN=$(BUILD)/edgefhir python3 tests/e2e/run.py

# The whole test suite (unit + e2e, the e2e tests running build-asan/edgefhir) under
# AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer, in its own build dir.  Any
# sanitizer report from any process (unit tests, the server, CLI runs) is written to
# build-asan/sanitizer-logs/ and fails the target even when the tests themselves passed
# (e.g. a leak reported at server exit, or UB in a request whose answer looked right).
# EDGEFHIR_SANITIZER=asan tells the memory tests that freed blocks wait in ASan's quarantine
# (test_hostile.py widens its settled-RSS budget by the quarantine's 256 MB, nothing else).
ASAN_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_LOGS := build-asan/sanitizer-logs
test-asan:
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@EDGEFHIR_SANITIZER=asan ASAN_OPTIONS="log_path=$(CURDIR)/$(ASAN_LOGS)/asan:allocator_release_to_os_interval_ms=100:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1" \
	UBSAN_OPTIONS="log_path=$(CURDIR)/$(ASAN_LOGS)/ubsan:print_stacktrace=1:halt_on_error=1" \
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="$(ASAN_SAN)" test; rc=$$?; \
	if [ -n "$$(ls -A $(ASAN_LOGS))" ]; then \
	  echo "test-asan: sanitizer reports in $(ASAN_LOGS):"; \
	  for f in $(ASAN_LOGS)/*; do echo "== $$f"; grep -m1 -A12 -E 'ERROR|runtime error' $$f; done; exit 1; \
	fi; \
	if [ $$rc -eq 0 ]; then echo "test-asan: unit + e2e passed, no sanitizer reports"; fi; exit $$rc

# libFuzzer targets tests/fuzz/fuzz_<name>.cpp, built with clang + ASan + UBSan against the
# library compiled by clang with coverage instrumentation in build-fuzz/.  Replays
# tests/fuzz/regressions/<name>/ first, then fuzzes each target FUZZ_SECONDS (default 30)
# from tests/fuzz/corpus/<name>/.  FUZZ_TARGETS="json jwt" picks targets.
FUZZ_CXX     ?= clang++
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))

fuzz:
	@command -v $(FUZZ_CXX) >/dev/null || { echo "make fuzz needs clang: apt-get install clang"; exit 1; }
	$(MAKE) BUILD=build-fuzz CXX="$(CCACHE) $(FUZZ_CXX)" OPT=-O1 SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz-build
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.cpp tests/fuzz/fuzz_util.h $(BUILD)/libedgefhir.a
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -fsanitize=fuzzer $< $(BUILD)/libedgefhir.a -o $@ $(LDLIBS)

# A development CA and a localhost server certificate in certs/ (see certs/README.md).
certs:
	sh tools/gen-certs.sh certs


run: $(BUILD)/edgefhir
	@sh tools/run-demo.sh

bench: $(BUILD)/edgefhir
	@EDGEFHIR_BIN=$(BUILD)/edgefhir sh tools/bench.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/obj/src/main.d
