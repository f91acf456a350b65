# ngx_aim in front of an MCP server (tests/mcp): the official MCP
# TypeScript SDK's client and server, pinned by tests/mcp/package-lock.json
# and installed by the test itself (npm ci, skipped when node_modules
# already holds that lock's packages), through nginx with the module.
#
#   make test-mcp          per-tool scopes, batches, bodies, challenges,
#                          the RFC 9728 document, CORS, streams that end
#                          with the agent (tests/mcp/run.sh)
#   make test-mcp-valgrind the module's MCP, JSON and re-check paths under
#                          valgrind (tests/mcp/valgrind.sh; no node needed)

.PHONY: test-mcp test-mcp-valgrind
TEST_TARGETS += test-mcp test-mcp-valgrind

test-mcp: $(NGX_AIM) $(AIMCTL) ## ngx_aim in front of the MCP SDK's server, driven by its client
	@tests/mcp/run.sh

test-mcp-valgrind: $(NGX_AIM) $(AIMCTL) ## the module's MCP, JSON and re-check paths under valgrind
	@tests/mcp/valgrind.sh
