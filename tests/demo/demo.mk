# make demo: install missing packages, build, install pg_aim into
# PostgreSQL's directories, and play the story on loopback.
.PHONY: demo
demo: deps ## the loopback demo of all three adapters
	@$(MAKE) --no-print-directory build-all
	@$(MAKE) --no-print-directory install-pg
	@tests/demo/demo.sh

# The story as a test: every step must have its expected outcome.
TEST_TARGETS += test-demo
.PHONY: test-demo
test-demo: build-all ## the demo as a test: every step has its expected outcome
	@$(MAKE) --no-print-directory install-pg >/dev/null
	@AIM_DEMO_DIR=$(B)/demo-test tests/demo/demo.sh
