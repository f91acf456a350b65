# aimctl, end to end (tests/aimctl/run.sh): keys, JWKS, issue, verify with
# every rejection reason, inspect, DPoP proofs, usage errors, key secrecy.
.PHONY: test-aimctl
TEST_TARGETS += test-aimctl
test-aimctl: $(AIMCTL) ## aimctl end to end
	@tests/aimctl/run.sh $(AIMCTL)
