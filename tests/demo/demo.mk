# make demo: install missing packages, build, and play the story on
# loopback.  PostgreSQL runs pg_aim from a private installation in the
# demo's run directory (tests/lib/aimtest.sh): nothing is installed into
# the system's PostgreSQL directories.
.PHONY: demo
demo: deps ## the loopback demo of all three adapters
	@$(MAKE) --no-print-directory build-all
	@tests/demo/demo.sh

# The story as a test: every step must have its expected outcome.
TEST_TARGETS += test-demo
.PHONY: test-demo
test-demo: build-all ## the demo as a test: every step has its expected outcome
	@AIM_DEMO_DIR=$(B)/demo-test tests/demo/demo.sh
