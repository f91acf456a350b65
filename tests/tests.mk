# tests/tests.mk -- the core's own suites: unit tests (gcc, ASan+UBSan under
# clang, valgrind), a clang -Werror build, the public vectors, the libjwt
# differential oracle and the libFuzzer harnesses.
#
#   make test-unit         unit tests, normal build
#   make test-asan         the same, core and tests under ASan+UBSan (clang)
#   make test-valgrind     the same under valgrind (memcheck)
#   make test-clang-build  every core file with clang -Werror
#   make test-vectors      Wycheproof, RFC 7515/7520, JSONTestSuite (tests/vectors/data)
#   make test-oracle       libjwt 1.10 vs AIM on RS256/ES256 tokens
#   make test-fuzz-smoke   each harness for FUZZ_SMOKE_SECONDS (default 8)
#   make fuzz              each harness for FUZZ_SECONDS (default 300)

CLANG        ?= clang
T_B          := $(B)/tests
ASAN_B       := $(B)/asan
FUZZ_B       := $(B)/fuzz
CLANG_B      := $(B)/clang

UNIT_SRCS    := $(wildcard tests/unit/*.c)
UNIT_HDRS    := $(wildcard tests/unit/*.h)
UNIT_BIN     := $(T_B)/unit
# The checkout, for tests that hold the docs to the code.
UNIT_DEFS     = -DAIM_SRCDIR='"$(CURDIR)"'

# Sanitizer flavour: the core recompiled with the same warnings, -O1.
SAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
SAN_CFLAGS    = $(filter-out $(OPT) -D_FORTIFY_SOURCE=2,$(CORE_CFLAGS)) -O1 $(SAN_FLAGS)
ASAN_OBJS    := $(patsubst common/lib/%.c,$(ASAN_B)/obj/%.o,$(CORE_SRCS)) \
                $(patsubst common/issuer/%.c,$(ASAN_B)/obj/issuer/%.o,$(ISSUER_SRCS))
ASAN_LIB     := $(ASAN_B)/libaim.a
ASAN_UNIT    := $(ASAN_B)/unit
SAN_ENV      := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: test-unit test-asan test-valgrind test-clang-build test-vectors \
        test-oracle test-fuzz-smoke fuzz fuzz-build

TEST_TARGETS += test-clang-build test-unit test-asan test-valgrind test-vectors \
                test-oracle test-fuzz-smoke

# ---------------------------------------------------------------- unit

$(UNIT_BIN): $(UNIT_SRCS) $(UNIT_HDRS) $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(TOOL_CFLAGS) $(UNIT_DEFS) -Itests/unit -o $@ $(UNIT_SRCS) $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS)

# A locale with a decimal comma, compiled into the build tree (locales'
# sources, no system change), for the JSON parser's locale test.
TEST_LOCALE  := $(B)/locale
TEST_ENV      = LOCPATH=$(abspath $(TEST_LOCALE))

$(TEST_LOCALE)/stamp:
	@mkdir -p $(TEST_LOCALE)
	@localedef -i de_DE -f UTF-8 $(TEST_LOCALE)/de_DE.UTF-8 >/dev/null 2>&1 || \
	    echo "  (no de_DE locale sources: the JSON locale test will say it skipped)"
	@touch $@

test-unit: $(UNIT_BIN) $(TEST_LOCALE)/stamp ## unit tests of the core
	@$(TEST_ENV) tests/run-suite.sh unit $(UNIT_BIN)

$(ASAN_B)/obj/%.o: common/lib/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC/SAN  $<")
	$(Q)$(CLANG) $(SAN_CFLAGS) -c -o $@ $<

$(ASAN_B)/obj/issuer/%.o: common/issuer/%.c $(ISSUER_HDRS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC/SAN  $<")
	$(Q)$(CLANG) $(SAN_CFLAGS) $(TOOL_INCS) -c -o $@ $<

$(ASAN_LIB): $(ASAN_OBJS)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(ASAN_UNIT): $(UNIT_SRCS) $(UNIT_HDRS) $(ASAN_LIB)
	@$(if $(V),,echo "  LD/SAN  $@")
	$(Q)$(CLANG) $(SAN_CFLAGS) $(TOOL_INCS) $(UNIT_DEFS) -Itests/unit -o $@ $(UNIT_SRCS) $(ASAN_LIB) $(PKG_LIBS)

test-asan: $(ASAN_UNIT) $(TEST_LOCALE)/stamp ## unit tests under ASan + UBSan (clang)
	@$(SAN_ENV) $(TEST_ENV) T_SUITE=unit-asan tests/run-suite.sh unit-asan $(ASAN_UNIT)

# About 45 s on two cores: cheap enough to run in make test.
test-valgrind: $(UNIT_BIN) $(TEST_LOCALE)/stamp ## unit tests under valgrind
	@$(TEST_ENV) T_SUITE=unit-valgrind tests/run-suite.sh unit-valgrind valgrind -q \
	    --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect $(UNIT_BIN)

# ---------------------------------------------------------------- clang

test-clang-build: ## every core file compiled by clang -Werror
	@mkdir -p $(CLANG_B); p=0; f=0; \
	for src in $(CORE_SRCS) $(ISSUER_SRCS) $(AIMCTL_SRCS); do \
	    obj=$(CLANG_B)/$$(basename $$src .c).o; \
	    if $(CLANG) $(TOOL_CFLAGS) -Icommon/aimctl -c -o $$obj $$src 2>$(CLANG_B)/err.txt; then \
	        p=$$((p+1)); \
	    else \
	        f=$$((f+1)); echo "FAIL clang -Werror: $$src"; cat $(CLANG_B)/err.txt; \
	    fi; \
	done; \
	echo "clang-build: $$p passed, $$f failed, 0 skipped"; [ $$f -eq 0 ]

-include tests/vectors/vectors.mk
-include tests/oracle/oracle.mk
-include tests/fuzz/fuzz.mk
