# Trust, the shared state file and status lists (tests/trust).
TRUST_TEST := $(B)/tests/test_trust

# The unit tests' helpers (tests/unit/tu.c): keys, tokens, verifiers, clock.
$(TRUST_TEST): tests/trust/test_trust.c tests/unit/tu.c tests/unit/tu.h $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -Itests/unit -o $@ $< tests/unit/tu.c $(ISSUER_LIB) $(LIBAIM) $(PKG_LIBS)

.PHONY: test-trust
TEST_TARGETS += test-trust
test-trust: $(TRUST_TEST) ## trust, the shared state file, status lists
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; $(TRUST_TEST) "$$d"
