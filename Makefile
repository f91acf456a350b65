# AIM -- Agent Identity Management.
#
#   make            build everything into build/
#   make test       every test (unit, sanitizers, vectors, adapters)
#   make demo       the loopback demo of all three adapters
#   make fuzz       longer libFuzzer runs
#   make bench      benchmarks against peers
#   make install    honours DESTDIR and PREFIX
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
        install-aimctl uninstall-aimctl deps build-all

all: build-all

core: $(LIBAIM) $(AIMCTL)

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

$(AIMCTL): $(AIMCTL_SRCS) $(AIMCTL_HDRS) $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(TOOL_CFLAGS) -Icommon/aimctl -fPIE -pie -o $@ \
	    $(AIMCTL_SRCS) $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS)

# The exported-symbol contract: a static archive built with hidden
# visibility, so adapters that share a process never see each other's core.
LIBAIM_LDFLAGS = $(LIBAIM) $(PKG_LIBS)

-include tests/tests.mk
-include tests/trust/trust.mk
-include tests/aimctl/aimctl.mk
-include tests/ssf/ssf.mk
-include pam_aim/pam_aim.mk
-include ngx_aim/ngx_aim.mk
-include pg_aim/pg_aim.mk
-include bench/trust/trust.mk
-include tests/demo/demo.mk
-include bench/bench.mk

# "make bench" runs every benchmark an included .mk registered.
ifeq ($(wildcard bench/bench.mk),)
bench: build-all
	@for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done
endif

build-all: $(ALL_TARGETS)

# Every suite prints "<suite>: N passed, N failed, N skipped" as its last
# line; this rule runs them all, keeps their logs and adds the counts up.
test: deps
	@$(MAKE) --no-print-directory build-all
	@set -o pipefail; rm -rf $(B)/test-logs; mkdir -p $(B)/test-logs; failed=""; \
	for t in $(TEST_TARGETS); do \
	    echo "==> $$t"; \
	    $(MAKE) --no-print-directory $$t 2>&1 | tee $(B)/test-logs/$$t.log || failed="$$failed $$t"; \
	done; \
	cat $(B)/test-logs/*.log /dev/null | awk '/^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed/ \
	    { p += $$2; f += $$4; s += $$6 } \
	    END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' > $(B)/test-logs/total; \
	if [ -n "$$failed" ]; then echo "FAILED suites:$$failed"; fi; \
	cat $(B)/test-logs/total; \
	[ -z "$$failed" ]

install: build-all $(INSTALL_TARGETS)

uninstall: $(UNINSTALL_TARGETS)

install-aimctl: $(AIMCTL)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(AIMCTL) $(DESTDIR)$(BINDIR)/aimctl
	if [ -f docs/man/aimctl.1 ]; then install -m 644 docs/man/aimctl.1 $(DESTDIR)$(MANDIR)/man1/aimctl.1; fi

uninstall-aimctl:
	rm -f $(DESTDIR)$(BINDIR)/aimctl $(DESTDIR)$(MANDIR)/man1/aimctl.1

# Install missing Debian packages (a quick no-op when all are present).
deps:
	@./deps.sh

clean:
	rm -rf $(B)
