# AIM -- Agent Identity Management.
#
#   make            build everything into build/
#   make test       every test (unit, sanitizers, vectors, adapters)
#   make demo       the loopback demo of all three adapters
#   make fuzz       longer libFuzzer runs
#   make bench      benchmarks against peers
#   make install    honours DESTDIR and PREFIX
#   make deb        Debian packages into build/deb/ (debian/deb.mk)
#   make help       every target, one line each
#
# Each adapter adds its own rules from <adapter>/<adapter>.mk.

SHELL      := /bin/bash
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man

CC         ?= cc
AR         ?= ar
B          := build
OPT        ?= -O2
PKGS       := openssl jansson zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lssl -lcrypto -ljansson -lz) -lm
# libcurl: aimctl alone (fetch, ssf poll); the core and the adapters make
# no network calls and never link it.
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Wno-unknown-warning-option -Wvla
CORE_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) -g \
              -fPIC -fvisibility=hidden -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
              $(WARN) $(PKG_CFLAGS) -Icommon $(EXTRA_CFLAGS)

# The library (common/lib, one public header common/aim.h), the
# development issuer that only aimctl and the tests link (common/issuer),
# and the command-line tool, one file per subcommand (common/aimctl).
CORE_SRCS  := $(wildcard common/lib/*.c)
CORE_HDRS  := common/aim.h $(wildcard common/lib/*.h)
CORE_OBJS  := $(patsubst common/lib/%.c,$(B)/obj/%.o,$(CORE_SRCS))
ISSUER_SRCS := $(wildcard common/issuer/*.c)
ISSUER_HDRS := $(wildcard common/issuer/*.h)
AIMCTL_SRCS := $(wildcard common/aimctl/*.c)
AIMCTL_HDRS := $(wildcard common/aimctl/*.h)
LIBAIM     := $(B)/libaim.a
AIMCTL     := $(B)/bin/aimctl
ISSUER_LIB := $(B)/libaimissuer.a
# What the CLI, tests and benchmarks add to the library's include path.
TOOL_INCS  := -Icommon/lib -Icommon/issuer
TOOL_CFLAGS = $(CORE_CFLAGS) $(TOOL_INCS)

ALL_TARGETS     := $(LIBAIM) $(ISSUER_LIB) $(AIMCTL)
TEST_TARGETS    :=
INSTALL_TARGETS := install-aimctl
UNINSTALL_TARGETS := uninstall-aimctl

.PHONY: all core test test-unit test-asan fuzz bench demo install uninstall clean \
        install-aimctl uninstall-aimctl deps build-all help compile_commands

all: build-all ## build everything into build/ (the default)

core: $(LIBAIM) $(AIMCTL) ## build libaim.a and aimctl only

# Quiet by default; V=1 shows the commands.
Q := $(if $(V),,@)

$(B)/obj/%.o: common/lib/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CORE_CFLAGS) -c -o $@ $<

$(LIBAIM): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	@$(if $(V),,echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(B)/obj/issuer/%.o: common/issuer/%.c $(ISSUER_HDRS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(TOOL_CFLAGS) -c -o $@ $<

$(ISSUER_LIB): $(patsubst common/issuer/%.c,$(B)/obj/issuer/%.o,$(ISSUER_SRCS))
	@rm -f $@
	@$(if $(V),,echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(B)/obj/aimctl/%.o: common/aimctl/%.c $(AIMCTL_HDRS) $(ISSUER_HDRS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(TOOL_CFLAGS) $(CURL_CFLAGS) -Icommon/aimctl -fPIE -c -o $@ $<

$(AIMCTL): $(patsubst common/aimctl/%.c,$(B)/obj/aimctl/%.o,$(AIMCTL_SRCS)) \
           $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(TOOL_CFLAGS) -fPIE -pie $(LDFLAGS) -o $@ \
	    $(patsubst common/aimctl/%.c,$(B)/obj/aimctl/%.o,$(AIMCTL_SRCS)) \
	    $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS) $(CURL_LIBS)

# The exported-symbol contract: a static archive built with hidden
# visibility, so adapters that share a process never see each other's core.
LIBAIM_LDFLAGS = $(LIBAIM) $(PKG_LIBS)

-include tests/tests.mk
-include tests/trust/trust.mk
-include tests/aimctl/aimctl.mk
-include tests/ssf/ssf.mk
-include pam_aim/pam_aim.mk
-include ngx_aim/ngx_aim.mk
-include tests/nginx/trust.mk
-include tests/mcp/mcp.mk
-include pg_aim/pg_aim.mk
-include tests/ssf/nginx.mk
-include bench/trust/trust.mk
-include tests/demo/demo.mk
-include debian/deb.mk
-include tests/clone/clone.mk
-include bench/bench.mk

# "make bench" runs every benchmark an included .mk registered.
ifeq ($(wildcard bench/bench.mk),)
bench: build-all
	@for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done
endif

build-all: $(ALL_TARGETS) ## build the core, aimctl and the three adapters

# Every suite prints "<suite>: N passed, N failed, N skipped" as its last
# line; this rule runs them all, keeps their logs (build/test-logs), times
# them and adds the counts up.  A skipped check fails the run too, unless
# AIM_ALLOW_SKIP=1 says the skips were wanted (PAM_VALGRIND=0, say).
test: deps ## every test suite (TEST_TARGETS), counts added up, logs in build/test-logs
	@$(MAKE) --no-print-directory build-all
	@set -o pipefail; rm -rf $(B)/test-logs; mkdir -p $(B)/test-logs; failed=""; start=$$(date +%s); \
	for t in $(TEST_TARGETS); do \
	    echo "==> $$t"; t0=$$(date +%s); \
	    $(MAKE) --no-print-directory $$t 2>&1 | tee $(B)/test-logs/$$t.log || failed="$$failed $$t"; \
	    printf '%-24s %4d s  %s\n' $$t $$(( $$(date +%s) - t0 )) \
	        "$$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' $(B)/test-logs/$$t.log | tail -1)" \
	        >> $(B)/test-logs/times; \
	done; \
	for t in $(TEST_TARGETS); do cat $(B)/test-logs/$$t.log; done | awk '/^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed/ \
	    { p += $$2; f += $$4; s += $$6 } \
	    END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' > $(B)/test-logs/total; \
	echo; cat $(B)/test-logs/times; echo "total: $$(( $$(date +%s) - start )) s"; \
	skipped=$$(awk '{ print $$5 }' $(B)/test-logs/total); \
	if [ "$$skipped" -gt 0 ] && [ -z "$(AIM_ALLOW_SKIP)" ]; then \
	    echo "$$skipped checks were skipped (SKIP lines above); AIM_ALLOW_SKIP=1 accepts that"; \
	    failed="$$failed (skips)"; fi; \
	if [ -n "$$failed" ]; then echo "FAILED suites:$$failed"; fi; \
	cat $(B)/test-logs/total; \
	[ -z "$$failed" ]

install: build-all $(INSTALL_TARGETS) ## install aimctl and the adapters (DESTDIR, PREFIX)

uninstall: $(UNINSTALL_TARGETS) ## remove what install put in place

install-aimctl: $(AIMCTL) ## install aimctl and its man page
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(AIMCTL) $(DESTDIR)$(BINDIR)/aimctl
	if [ -f docs/man/aimctl.1 ]; then install -m 644 docs/man/aimctl.1 $(DESTDIR)$(MANDIR)/man1/aimctl.1; fi

uninstall-aimctl: ## remove aimctl and its man page
	rm -f $(DESTDIR)$(BINDIR)/aimctl $(DESTDIR)$(MANDIR)/man1/aimctl.1

# make help: every target that has a "## what it does" on its rule line,
# in the order of the files that define them.
help: ## this list
	@echo "AIM -- make TARGET (V=1 shows the commands); see CONTRIBUTING.md"
	@awk -F':.*## ' '/^[a-zA-Z0-9_.-]+:.*## / { printf "  %-22s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# compile_commands.json for clangd and other tools: every compiler call of
# a full rebuild (the core, aimctl, the adapters -- nginx's and PGXS's own
# builds included -- and the test and benchmark programs), recorded by bear.
COMPDB_TARGETS = build-all $(UNIT_BIN) $(TRUST_TEST) $(ORACLE_BIN) $(BENCH_VERIFY) $(BENCH_STATE)
compile_commands: ## compile_commands.json (a full rebuild under bear)
	@command -v bear > /dev/null || { echo "bear is missing: ./deps.sh installs it"; exit 1; }
	bear --output compile_commands.json -- $(MAKE) --no-print-directory -B $(COMPDB_TARGETS)
	@echo "compile_commands.json: $$(grep -c '"file"' compile_commands.json) compiler calls"

# Install missing Debian packages (a quick no-op when all are present).
deps: ## install missing Debian packages (./deps.sh)
	@./deps.sh

clean: ## remove build/
	rm -rf $(B)
