# Makefile - builds tric, runs its tests, checks its rules and runs its benchmarks.
#
#   make            build build/tric and build/libtricrt.a, the runtime library (installs
#                   missing Debian packages first: make deps)
#   make example    compile examples/mlp.tri (importing layers.tri), link it into examples/demo.c and run it
#   make test       `make check`, then every test twice: with build/tric and with tric built
#                   under ASan + UBSan; the last line is "N passed, N failed" over both;
#                   the data-race tests also run tric built with ThreadSanitizer (make tsan)
#   make test-asan  only the sanitized run
#   make unit       the unit tests of tests/unit/ (make test runs them first; the thread
#                   pool's also under ASan + UBSan and TSan)
#   make check      enforce the no-mutable-globals rule on frontend/typecheck/codegen
#   make bench      benchmarks (ratios against baselines run side by side); installs their
#                   own packages first (make bench-deps); kernel figures to $(BUILD)/bench-kernels.json
#   make bench-compare BASELINE=FILE [NEW=FILE] [ABSOLUTE=1]
#                   the kernel ratios (ABSOLUTE=1: also tric's own times) that regressed against
#                   an earlier JSON beyond the noise; runs the kernels section first unless NEW
#                   names a JSON already made
#   make install    tric, libtricrt.a, the runtime headers, tric.pc and the CMake package into
#                   PREFIX (default /usr/local) under DESTDIR (docs/install.md); make uninstall
#
# Generated sources (re2c, lemon) and objects live under $(BUILD), never in git.

BUILD ?= build
CC ?= cc
LLVM_CONFIG ?= llvm-config-19
PYTHON ?= /usr/bin/python3
SAN ?=

# libstdc++-12-dev: LLVM's static libraries need -lstdc++, and llvm-19-dev brings only the
# C++ runtime, not the files to link against it (a minbase Debian 12 has neither).
DEBIAN_PACKAGES = re2c lemon llvm-19-dev libstdc++-12-dev libxxhash-dev libuv1-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev \
                  libxml2-dev libz3-dev python3-numpy make gcc

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c17 $(WARN) $(CFLAGS) -fno-common -D_GNU_SOURCE -I. -I$(BUILD) -MMD -MP
ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS = -fsanitize=address,undefined
endif
ifeq ($(SAN),thread)
ALL_CFLAGS += -fsanitize=thread
SAN_LDFLAGS = -fsanitize=thread
endif

LLVM_INC = $(shell $(LLVM_CONFIG) --includedir 2>/dev/null)
LLVM_LIBDIR = $(shell $(LLVM_CONFIG) --libdir 2>/dev/null)
LLVM_LIBS = $(shell $(LLVM_CONFIG) --link-static --libs core passes native x86 aarch64 2>/dev/null)
LLVM_SYSLIBS = $(shell $(LLVM_CONFIG) --link-static --system-libs 2>/dev/null)
LDLIBS = -L$(LLVM_LIBDIR) $(LLVM_LIBS) $(LLVM_SYSLIBS) -lxxhash -luv -lstdc++ -lm -lpthread

FRONTEND = $(BUILD)/frontend/lexer.o $(BUILD)/frontend/parser.o $(BUILD)/frontend/parse.o \
           $(BUILD)/frontend/support.o
TYPECHECK = $(patsubst %.c,$(BUILD)/%.o,$(wildcard typecheck/*.c))
CODEGEN = $(patsubst %.c,$(BUILD)/%.o,$(wildcard codegen/*.c))
CACHE = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cache/*.c))
CMD = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/*.c))
OBJS = $(CMD) $(CACHE) $(CODEGEN) $(TYPECHECK) $(FRONTEND)
RUNTIME = $(patsubst %.c,$(BUILD)/%.o,$(wildcard runtime/*.c))

all: $(BUILD)/tric $(BUILD)/libtricrt.a

# Remade when the Makefile changes, so a checkout that gains a package installs it.
$(BUILD)/.deps-ok: Makefile
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(BUILD) && touch $@

# Installs packages ($(2)) when run as root, else prints the apt-get line; $(1) names the step.
define apt_install
	@missing=""; for p in $(2); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "$(1): all installed"; \
	elif [ "$$(id -u)" = 0 ]; then echo "$(1): installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null) \
	  || { echo "$(1): apt-get failed" >&2; exit 1; }; \
	else echo "$(1): missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; fi
endef

# The Debian packages tric needs.
deps:
	$(call apt_install,deps,$(DEBIAN_PACKAGES))

$(BUILD)/frontend/parser.c $(BUILD)/frontend/parser.h: frontend/parser.y | $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)/frontend
	lemon -q -T/usr/share/lemon/lempar.c -d$(BUILD)/frontend frontend/parser.y
	@# lemon leaves an unchanged parser.h as it was, older than parser.y
	@touch $(BUILD)/frontend/parser.c $(BUILD)/frontend/parser.h

$(BUILD)/frontend/lexer.c: frontend/lexer.re | $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)/frontend
	re2c -W -Werror --no-generation-date -o $@ $<

$(BUILD)/frontend/lexer.o: $(BUILD)/frontend/lexer.c $(BUILD)/frontend/parser.h frontend/tokens.def
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# NDEBUG drops lemon's tracing, the only static mutable state in its template.
$(BUILD)/frontend/parser.o: $(BUILD)/frontend/parser.c
	$(CC) $(ALL_CFLAGS) -DNDEBUG -c -o $@ $<

$(BUILD)/frontend/parse.o: $(BUILD)/frontend/parser.h

$(BUILD)/codegen/%.o: codegen/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(LLVM_INC) -c -o $@ $<

$(BUILD)/%.o: %.c | $(BUILD)/.deps-ok $(BUILD)/frontend/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# -no-pie: the static LLVM inside holds ~150k relative relocations that a PIE would apply
# at every start, a fixed cost of every run
$(BUILD)/tric: $(OBJS)
	$(CC) $(SAN_LDFLAGS) -no-pie -Wl,--gc-sections -Wl,--build-id -o $@ $(OBJS) $(LDLIBS)

# libtricrt.a, the runtime library a program may link (its thread pool): position-
# independent, so it also goes into shared libraries.
$(BUILD)/runtime/%.o: runtime/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -c -o $@ $<

$(BUILD)/libtricrt.a: $(RUNTIME)
	rm -f $@ && ar rcs $@ $(RUNTIME)

-include $(OBJS:.o=.d) $(RUNTIME:.o=.d)

# ---------------------------------------------------------------- example, tests

example: $(BUILD)/tric $(BUILD)/libtricrt.a
	$(MAKE) --no-print-directory -C examples TRIC=$(abspath $(BUILD)/tric)

SAN_ENV = ASAN_OPTIONS=detect_leaks=1:exitcode=86:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87

# The tests' other independent reference: PyTorch, for the neural builtins against
# torch.nn.functional and examples/resnet18.tri against torchvision's resnet18 (NumPy, in
# DEBIAN_PACKAGES, checks the rest).
TEST_PACKAGES = python3-torch python3-torchvision nginx

test-deps:
	$(call apt_install,test-deps,$(TEST_PACKAGES))

test: test-deps $(BUILD)/tric $(BUILD)/libtricrt.a check asan tsan unit
	$(SAN_ENV) $(PYTHON) tests/run.py --tric $(BUILD)/tric --sanitized-tric build-asan/tric --tsan-tric build-tsan/tric

test-asan: asan $(BUILD)/libtricrt.a
	$(SAN_ENV) $(PYTHON) tests/run.py --sanitized-tric build-asan/tric

# Unit tests of the TIR schema (tests/unit/), against the typecheck and frontend objects,
# plain and under ASan + UBSan.
$(BUILD)/tests/tir_test: tests/unit/tir_test.c $(TYPECHECK) $(FRONTEND)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_LDFLAGS) -o $@ $< $(TYPECHECK) $(FRONTEND) -lm

# The thread pool's tests, against libtricrt.a: plain, under ASan + UBSan and under TSan
# (die_after_fork=0: the fork test's child starts threads, which TSan refuses by default).
$(BUILD)/tests/pool_test: tests/unit/pool_test.c $(BUILD)/libtricrt.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_LDFLAGS) -DPOOL_SRC='"$(CURDIR)"' -DPOOL_LIB='"$(abspath $(BUILD)/libtricrt.a)"' -o $@ $< $(BUILD)/libtricrt.a -lpthread

unit: $(BUILD)/tests/tir_test $(BUILD)/tests/pool_test asan
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 build-asan/tests/tir_test build-asan/tests/pool_test
	@$(MAKE) --no-print-directory BUILD=build-tsan SAN=thread CFLAGS='-O1 -g' build-tsan/tests/pool_test
	$(BUILD)/tests/tir_test
	$(BUILD)/tests/pool_test
	$(SAN_ENV) build-asan/tests/tir_test
	$(SAN_ENV) build-asan/tests/pool_test
	TSAN_OPTIONS=halt_on_error=1:exitcode=88:die_after_fork=0 build-tsan/tests/pool_test

# tric built with ASan + UBSan, in its own folder
asan: $(BUILD)/.deps-ok
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 build-asan/tric build-asan/libtricrt.a

# tric built with ThreadSanitizer, for the data-race tests of the parallel builder
tsan: $(BUILD)/.deps-ok
	@$(MAKE) --no-print-directory BUILD=build-tsan SAN=thread CFLAGS='-O1 -g' build-tsan/tric build-tsan/libtricrt.a

# No writable data in the compiler layers: every module compiles on any thread. Symbols
# in .data, .bss, thread-local or common sections fail; .rodata and .data.rel.ro (read-only
# once relocated) are constant.
check: $(FRONTEND) $(TYPECHECK) $(CODEGEN)
	@bad=$$(objdump -t $(FRONTEND) $(TYPECHECK) $(CODEGEN) | \
	  grep -E '[[:space:]](\.data|\.bss|\.tdata|\.tbss|\*COM\*)([.][^[:space:]]*)?[[:space:]]' | \
	  grep -vE '[[:space:]]\.data\.rel\.ro' | grep -E ' O |[[:space:]]\.t(data|bss)' || true); \
	if [ -n "$$bad" ]; then echo "check: mutable global state found:"; echo "$$bad"; exit 1; fi; \
	echo "check: no mutable global state in frontend/typecheck/codegen"

# The benchmarks' baselines only (OpenBLAS, PyTorch): not needed to build or test tric.
BENCH_PACKAGES = libopenblas-dev python3-torch python3-torchvision pkg-config nginx
# Node.js for ONNX Runtime (benchmarks/resnet18.py npm-installs onnxruntime-node under build/).
# NodeSource's nodejs bundles npm and conflicts with Debian's: ask for npm only when absent.
BENCH_PACKAGES += nodejs $(if $(shell command -v npm),,npm)

bench-deps:
	$(call apt_install,bench-deps,$(BENCH_PACKAGES))

bench: $(BUILD)/tric $(BUILD)/libtricrt.a bench-deps
	$(PYTHON) benchmarks/run.py --tric $(BUILD)/tric --json $(BUILD)/bench-kernels.json

bench-compare: $(BUILD)/tric bench-deps
	@test -n "$(BASELINE)" || { echo "usage: make bench-compare BASELINE=FILE [NEW=FILE]" >&2; exit 2; }
	@test -f "$(BASELINE)" || { echo "bench-compare: no such file: $(BASELINE)" >&2; exit 2; }
	$(if $(NEW),,$(PYTHON) benchmarks/run.py --tric $(BUILD)/tric --only kernels --json $(BUILD)/bench-kernels-new.json)
	$(PYTHON) benchmarks/compare.py $(if $(ABSOLUTE),--absolute) $(BASELINE) $(or $(NEW),$(BUILD)/bench-kernels-new.json)

# ---------------------------------------------------------------- install

# make install [PREFIX=/usr/local] [DESTDIR=]: tric, the runtime library and headers, a
# pkg-config file and a CMake package (docs/install.md). It builds nothing that `make` has
# built already; the files made from templates (tric.pc, tricConfigVersion.cmake) are
# written straight into the destination, never into $(BUILD).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL ?= install
TRIC_VERSION = $(shell sed -n 's/^\#define TRIC_VERSION "\(.*\)"/\1/p' cmd/cmd.h)
INSTALL_BIN = $(DESTDIR)$(PREFIX)/bin
INSTALL_INC = $(DESTDIR)$(PREFIX)/include/tric
INSTALL_LIB = $(DESTDIR)$(PREFIX)/lib
INSTALL_CMAKE = $(INSTALL_LIB)/cmake/tric
INSTALL_DOC = $(DESTDIR)$(PREFIX)/share/doc/tric
INSTALL_DOCS = README.md $(wildcard docs/*.md)
INSTALL_HEADERS = runtime/tricrt.h runtime/tricrt_pool.h

# the install test builds CMake (Ninja and Makefile generators), pkg-config, C and C++ consumers
TEST_PACKAGES += cmake ninja-build pkg-config g++

install: $(BUILD)/tric $(BUILD)/libtricrt.a
	@test -n "$(TRIC_VERSION)" || { echo "install: no TRIC_VERSION in cmd/cmd.h" >&2; exit 1; }
	$(INSTALL) -d $(INSTALL_BIN) $(INSTALL_INC) $(INSTALL_LIB)/pkgconfig $(INSTALL_CMAKE) $(INSTALL_DOC)
	$(INSTALL) -m 755 $(BUILD)/tric $(INSTALL_BIN)/tric
	$(INSTALL) -m 644 $(INSTALL_HEADERS) $(INSTALL_INC)/
	$(INSTALL) -m 644 $(BUILD)/libtricrt.a $(INSTALL_LIB)/libtricrt.a
	$(INSTALL) -m 644 dist/tricConfig.cmake $(INSTALL_CMAKE)/tricConfig.cmake
	sed -e 's|@VERSION@|$(TRIC_VERSION)|g' dist/tricConfigVersion.cmake.in > $(INSTALL_CMAKE)/tricConfigVersion.cmake
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(TRIC_VERSION)|g' dist/tric.pc.in > $(INSTALL_LIB)/pkgconfig/tric.pc
	chmod 644 $(INSTALL_CMAKE)/tricConfigVersion.cmake $(INSTALL_LIB)/pkgconfig/tric.pc
	$(INSTALL) -m 644 $(INSTALL_DOCS) $(INSTALL_DOC)/

# Removes what install wrote (and the folders of tric's own that are left empty).
uninstall:
	rm -f $(INSTALL_BIN)/tric $(addprefix $(INSTALL_INC)/,$(notdir $(INSTALL_HEADERS))) \
	  $(INSTALL_LIB)/libtricrt.a $(INSTALL_LIB)/pkgconfig/tric.pc \
	  $(INSTALL_CMAKE)/tricConfig.cmake $(INSTALL_CMAKE)/tricConfigVersion.cmake \
	  $(addprefix $(INSTALL_DOC)/,$(notdir $(INSTALL_DOCS)))
	@for d in $(INSTALL_INC) $(INSTALL_CMAKE) $(INSTALL_DOC); do rmdir $$d 2>/dev/null || true; done

.PHONY: install uninstall

clean:
	rm -rf build build-asan build-tsan

.PHONY: all deps test-deps example test test-asan asan tsan check unit bench bench-deps bench-compare clean
