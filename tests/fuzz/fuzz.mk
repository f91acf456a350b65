# libFuzzer harnesses (tests/fuzz), clang with ASan+UBSan:
#   make test-fuzz-smoke   each harness FUZZ_SMOKE_SECONDS (8), in make test
#   make fuzz              each harness FUZZ_SECONDS (300)
# Corpora grow in build/fuzz/corpus-NAME from seeds generated at build time
# (build/fuzz/seeds/NAME); crashes are saved as build/fuzz/artifacts/NAME-*.
FUZZ_HARNESSES     := token claims jwks revoke policy dpop ssf config decide json mcp
FUZZ_SECONDS       ?= 300
FUZZ_SMOKE_SECONDS ?= 8
FUZZ_FLAGS         := -fsanitize=address,undefined -fno-sanitize-recover=all \
                      -fno-omit-frame-pointer
FUZZ_CFLAGS         = $(filter-out $(OPT) -D_FORTIFY_SOURCE=2,$(CORE_CFLAGS)) -O1 \
                      $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link
FUZZ_OBJS          := $(patsubst common/lib/%.c,$(FUZZ_B)/obj/%.o,$(CORE_SRCS)) \
                      $(patsubst common/issuer/%.c,$(FUZZ_B)/obj/issuer/%.o,$(ISSUER_SRCS))
FUZZ_LIB           := $(FUZZ_B)/libaim.a
FUZZ_BINS          := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_HARNESSES))
FUZZ_SEEDGEN       := $(FUZZ_B)/gen_seeds
FUZZ_HDRS          := tests/fuzz/fuzz_common.h tests/fuzz/fuzz_keys.h

$(FUZZ_B)/obj/%.o: common/lib/%.c $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC/FUZZ $<")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_B)/obj/issuer/%.o: common/issuer/%.c $(ISSUER_HDRS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC/FUZZ $<")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(TOOL_INCS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $(FUZZ_LIB)
	@$(if $(V),,echo "  LD/FUZZ $@")
	$(Q)$(CLANG) $(filter-out -fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS)) -fsanitize=fuzzer \
	    $(TOOL_INCS) -Itests/fuzz -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)

$(FUZZ_SEEDGEN): tests/fuzz/gen_seeds.c $(FUZZ_HDRS) $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(TOOL_CFLAGS) -Itests/fuzz -o $@ $< $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS)

$(FUZZ_B)/seeds.stamp: $(FUZZ_SEEDGEN)
	@rm -rf $(FUZZ_B)/seeds
	$(Q)$(FUZZ_SEEDGEN) $(FUZZ_B)/seeds >/dev/null
	@touch $@

fuzz-build: $(FUZZ_BINS) $(FUZZ_B)/seeds.stamp ## build the libFuzzer harnesses and their seeds

test-fuzz-smoke: fuzz-build ## each fuzz harness for FUZZ_SMOKE_SECONDS (8)
	@tests/fuzz/run.sh fuzz-smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_B) $(FUZZ_HARNESSES)

fuzz: fuzz-build ## each fuzz harness for FUZZ_SECONDS (300)
	@tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_B) $(FUZZ_HARNESSES)
