# The baseline-update benchmark (issue 6): make bench-trust
BENCH_STATE := $(B)/bench/bench_state

$(BENCH_STATE): bench/trust/bench_state.c $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(TOOL_CFLAGS) -o $@ $< $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS)

.PHONY: bench-trust
BENCH_TARGETS += bench-trust
bench-trust: $(BENCH_STATE) ## baseline update per decision
	@echo "== bench-trust: baseline update per decision"
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; $(BENCH_STATE) "$$d/state"

# What continuous trust is for, measured (issue 16): scripted normal and
# hostile agents through the decision path, with the replaceable clock.
TRUST_SCEN := $(B)/bench/trust_scenarios

$(TRUST_SCEN): bench/trust/scenarios.c tests/unit/tu.c tests/unit/tu.h $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(TOOL_CFLAGS) -Itests/unit -o $@ $< tests/unit/tu.c $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS)

.PHONY: bench-trust-scenarios test-trust-scenarios
BENCH_TARGETS += bench-trust-scenarios
bench-trust-scenarios: $(TRUST_SCEN)
	@echo "== bench-trust-scenarios: events until refusal, false denials"
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; $(TRUST_SCEN) "$$d"

# The same scenarios as a test: every hostile one caught within 50 events,
# no false denial of a normal one (the out-of-reach one is reported).
TEST_TARGETS += test-trust-scenarios
test-trust-scenarios: $(TRUST_SCEN)
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	    tests/run-suite.sh trust-scenarios $(TRUST_SCEN) "$$d" --check
