# libjwt 1.10 as a differential oracle (tests/oracle): make test-oracle.
ORACLE_BIN := $(T_B)/oracle
ORACLE_N   ?= 2000

$(ORACLE_BIN): tests/oracle/oracle.c $(ISSUER_LIB) $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(TOOL_CFLAGS) -o $@ $< $(ISSUER_LIB) $(LIBAIM) -ljwt $(PKG_LIBS)

test-oracle: $(ORACLE_BIN) ## libjwt as a differential oracle (ORACLE_N tokens)
	@tests/run-suite.sh oracle $(ORACLE_BIN) $(ORACLE_N)
