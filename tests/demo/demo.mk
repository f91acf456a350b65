# make demo: install missing packages, build, install pg_aim into
# PostgreSQL's directories, and play the story on loopback.
.PHONY: demo
demo: deps
	@$(MAKE) --no-print-directory build-all
	@$(MAKE) --no-print-directory install-pg
	@tests/demo/demo.sh
