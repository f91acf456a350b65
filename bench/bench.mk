# Benchmarks: make bench runs every target in BENCH_TARGETS in turn.
# Adapters' .mk files (read before this one) append their own targets.
#
#   make bench-core [BENCH_SECONDS=1.5]   the core verification benchmark

BENCH_SECONDS ?= 1.5
BENCH_VERIFY  := $(B)/bench/bench_verify

$(BENCH_VERIFY): bench/core/bench_verify.c $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(TOOL_CFLAGS) -fPIE -pie -o $@ $< $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS) -ljwt

.PHONY: bench-core
BENCH_TARGETS += bench-core
bench-core: $(BENCH_VERIFY) ## core verification benchmark (BENCH_SECONDS)
	$(BENCH_VERIFY) $(BENCH_SECONDS)

# Everything is built first (as the top Makefile's fallback rule does); each
# benchmark runs even when an earlier one failed; the failures are
# listed at the end and make bench exits non-zero.
bench: build-all ## every benchmark (BENCH_TARGETS)
	@failed=""; \
	for t in $(BENCH_TARGETS); do \
	    echo "==> $$t"; \
	    $(MAKE) --no-print-directory $$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED benchmarks:$$failed"; exit 1; fi
