# The README's commands from a clone under a 0700 directory (tests/clone):
# make test-pg, test-nginx, test-pam, test-pam-sshd, demo and test-vectors
# run from a git clone of HEAD in a fresh 0700 directory.  Last in make test.
.PHONY: test-clone
TEST_TARGETS += test-clone
test-clone: ## the pg, nginx, pam, sshd, demo, vectors suites from a clone under a 0700 dir
	@tests/clone/run.sh
