# Shared signals (tests/ssf): the test transmitter's self-test -- signing,
# RFC 8936 poll and RFC 8935 push on loopback -- and the same SETs through
# libaim's receiver (ssf_apply), including a poll round it acknowledges;
# then aimctl against it over HTTPS (run.sh): ssf apply / poll / status,
# revoke's signals, stats, and fetch of JWKS, status and revocation lists.
SSF_APPLY := $(B)/tests/ssf_apply

$(SSF_APPLY): tests/ssf/ssf_apply.c $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(TOOL_CFLAGS) -o $@ $< $(LIBAIM) $(PKG_LIBS)

.PHONY: test-ssf
TEST_TARGETS += test-ssf
test-ssf: $(SSF_APPLY) $(AIMCTL) ## shared signals: the test transmitter, aimctl ssf and fetch
	@python3 tests/ssf/transmitter.py selftest --apply $(SSF_APPLY)
	@tests/ssf/run.sh $(AIMCTL)
