# The baseline-update benchmark (issue 6): make bench-trust
BENCH_STATE := $(B)/bench/bench_state

$(BENCH_STATE): bench/trust/bench_state.c $(LIBAIM)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CORE_CFLAGS) -o $@ $< $(LIBAIM) $(PKG_LIBS)

.PHONY: bench-trust
BENCH_TARGETS += bench-trust
bench-trust: $(BENCH_STATE) ## baseline update per decision
	@echo "== bench-trust: baseline update per decision"
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; $(BENCH_STATE) "$$d/state"
