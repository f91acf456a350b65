# Shared signals through nginx (tests/ssf/nginx.sh): the push receiver
# and the poll publisher of ngx_http_aim_ssf_module, with nginx, PAM and
# PostgreSQL of one host sharing its state file, then a fleet of three
# nginx hosts polling each other.  Included from the top Makefile after
# the adapters' .mk files (it needs their targets).
.PHONY: test-ssf-nginx
TEST_TARGETS += test-ssf-nginx
test-ssf-nginx: $(NGX_AIM) $(AIMCTL) $(PAM_AIM) $(PG_AIM) ## shared signals through nginx, PAM and PostgreSQL; a fleet of three hosts
	@tests/run-suite.sh ssf-nginx tests/ssf/nginx.sh
