# Public vectors (tests/vectors): converted by convert.py at test time, run
# by vectors.c built with ASan+UBSan (JSONTestSuite's i_ files must never
# crash).  AIM_VECTORS overrides the folder.
VEC_BIN := $(ASAN_B)/vectors

$(VEC_BIN): tests/vectors/vectors.c $(ASAN_LIB)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD/SAN  $@")
	$(Q)$(CLANG) $(SAN_CFLAGS) $(TOOL_INCS) -o $@ $< $(ASAN_LIB) $(PKG_LIBS)

test-vectors: $(VEC_BIN)
	@$(SAN_ENV) tests/vectors/run.sh $(VEC_BIN)
