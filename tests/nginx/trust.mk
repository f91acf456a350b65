# Issue 16.1 on nginx: probing keeps costing (tests/nginx/trust.sh).
.PHONY: test-nginx-trust
TEST_TARGETS += test-nginx-trust
test-nginx-trust: $(NGX_AIM) $(AIMCTL) ## nginx: a prober's trust keeps falling; granted requests stay refused
	@tests/run-suite.sh nginx-trust tests/nginx/trust.sh
