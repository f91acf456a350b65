# pg_aim: the PostgreSQL 15 extension (included by the top-level Makefile).
# PGXS builds it in pg_aim/; the module is copied to build/pg_aim.so.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PG_AIM    := $(B)/pg_aim.so
PG_AIM_MAKE = $(MAKE) --no-print-directory -C pg_aim PG_CONFIG=$(PG_CONFIG)

$(PG_AIM): $(wildcard pg_aim/*.c pg_aim/*.h pg_aim/*.sql) pg_aim/Makefile pg_aim/pg_aim.control \
           common/aim.h $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  PGXS    $@")
	$(Q)rm -f pg_aim/pg_aim.so
	$(Q)$(PG_AIM_MAKE) $(if $(V),,-s) all
	$(Q)if nm -D --defined-only pg_aim/pg_aim.so | grep -q ' aim_'; then \
	    echo "pg_aim.so exports core symbols" >&2; exit 1; fi
	$(Q)cp pg_aim/pg_aim.so $@

ALL_TARGETS       += $(PG_AIM)
TEST_TARGETS      += test-pg
INSTALL_TARGETS   += install-pg
UNINSTALL_TARGETS += uninstall-pg
BENCH_TARGETS     += bench-pg

.PHONY: test-pg install-pg uninstall-pg bench-pg pg-clean

# Installs into PostgreSQL's own directories (pg_config --pkglibdir,
# --sharedir), honouring DESTDIR.
install-pg: $(PG_AIM) ## install pg_aim into PostgreSQL's directories
	$(PG_AIM_MAKE) install DESTDIR=$(DESTDIR)

uninstall-pg: ## remove pg_aim from PostgreSQL's directories
	$(PG_AIM_MAKE) uninstall DESTDIR=$(DESTDIR)

test-pg: $(PG_AIM) $(AIMCTL) $(PAM_AIM) ## pg_aim on a throwaway PostgreSQL 15 cluster
	@tests/run-suite.sh pg tests/pg/run.sh

bench-pg: $(PG_AIM) $(AIMCTL) ## pgbench of pg_aim against the PostgREST idiom
	@bench/pg/bench.sh

pg-clean: ## clean PGXS's files in pg_aim/
	$(PG_AIM_MAKE) clean
