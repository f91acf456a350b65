// tests/mcp/server.mjs -- an MCP server (the official TypeScript SDK,
// Streamable HTTP, stateful sessions) for the nginx tests: the upstream
// ngx_aim protects.  Tools of three privilege levels, a tool that reports
// progress, a resource and a prompt; on every open GET stream it sends a
// log notification every 250 ms, so a test can see whether a stream
// outlives the agent.  Every request that reaches it is logged on stdout
// as one JSON line: {"seen": METHOD, "tool": NAME, "agent": X-Agent}.
// An HTTP upgrade to /ws (a WebSocket through nginx's proxy) is answered
// with 101 and then a line every 250 ms, raw: what nginx relays after an
// upgrade is bytes, whatever the protocol.
//
// Usage: node server.mjs PORT
import { randomUUID, webcrypto } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

// Node 18 (Debian 12's) has Web Crypto only as node:crypto's webcrypto;
// the SDK uses the global, as Node 20 has it.
if (!globalThis.crypto) globalThis.crypto = webcrypto;

const port = Number(process.argv[2] || 18700);
const sessions = new Map();   // session id -> { transport, server, timer }

function log(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function newServer() {
    const server = new McpServer({ name: 'aim-test-kb', version: '1.0.0' },
                                 { capabilities: { logging: {} } });

    server.registerTool('search', {
        description: 'Search the knowledge base (read)',
        inputSchema: { q: z.string() },
    }, async ({ q }) => ({ content: [{ type: 'text', text: `results for ${q}` }] }));

    server.registerTool('delete_doc', {
        description: 'Delete a document (write)',
        inputSchema: { id: z.string() },
    }, async ({ id }) => ({ content: [{ type: 'text', text: `deleted ${id}` }] }));

    server.registerTool('rotate_keys', {
        description: 'Rotate the signing keys (admin)',
        inputSchema: {},
    }, async () => ({ content: [{ type: 'text', text: 'rotated' }] }));

    server.registerTool('count', {
        description: 'Count to n, reporting progress',
        inputSchema: { n: z.number().int().min(1).max(20) },
    }, async ({ n }, extra) => {
        const token = extra._meta?.progressToken;
        for (let i = 1; i <= n; i++) {
            if (token !== undefined) {
                await extra.sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken: token, progress: i, total: n },
                });
            }
            await new Promise((r) => setTimeout(r, 20));
        }
        return { content: [{ type: 'text', text: `counted to ${n}` }] };
    });

    server.registerResource('doc', new ResourceTemplate('doc://{id}', { list: undefined }),
        { description: 'A document' },
        async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `document ${id}` }] }));

    server.registerPrompt('summarize', {
        description: 'Summarize a document',
        argsSchema: { id: z.string() },
    }, ({ id }) => ({
        messages: [{ role: 'user', content: { type: 'text', text: `Summarize doc://${id}` } }],
    }));
    return server;
}

async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    return text.length ? JSON.parse(text) : undefined;
}

const http = createServer(async (req, res) => {
    try {
        const sid = req.headers['mcp-session-id'];
        const agent = req.headers['x-agent'] || null;
        let body;

        if (req.method === 'POST') {
            body = await readBody(req);
            const msgs = Array.isArray(body) ? body : [body];
            for (const m of msgs) {
                log({ seen: m?.method ?? 'response', tool: m?.params?.name ?? null, agent });
            }
        } else {
            log({ seen: req.method, tool: null, agent });
        }

        let s = sid ? sessions.get(sid) : undefined;
        if (!s) {
            if (req.method !== 'POST' || sid || !isInitializeRequest(body)) {
                res.writeHead(sid ? 404 : 400, { 'Content-Type': 'application/json' });
                res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'no valid session' }, id: null }));
                return;
            }
            const server = newServer();
            const transport = new StreamableHTTPServerTransport({
                sessionIdGenerator: () => randomUUID(),
                onsessioninitialized: (id) => { sessions.set(id, s); },
            });
            s = { server, transport, timer: null };
            transport.onclose = () => {
                if (s.timer) clearInterval(s.timer);
                if (transport.sessionId) sessions.delete(transport.sessionId);
            };
            await server.connect(transport);
        }
        if (req.method === 'GET' && !s.timer) {
            // Server-initiated messages on the GET stream, as a live server
            // would send (and which keep nginx's read timeout from firing).
            let n = 0;
            s.timer = setInterval(() => {
                s.server.server.sendLoggingMessage({ level: 'info', data: `tick ${++n}` })
                    .catch(() => {});
            }, 250);
            res.on('close', () => { clearInterval(s.timer); s.timer = null; });
        }
        await s.transport.handleRequest(req, res, body);
    } catch (e) {
        log({ error: String(e) });
        if (!res.headersSent) {
            res.writeHead(500);
            res.end();
        }
    }
});

http.on('upgrade', (req, socket) => {
    log({ seen: 'UPGRADE', tool: null, agent: req.headers['x-agent'] || null });
    if (req.url !== '/ws') {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
    }
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                 + 'Connection: Upgrade\r\n\r\n');
    let n = 0;
    const timer = setInterval(() => socket.write(`tick ${++n}\n`), 250);
    socket.on('close', () => clearInterval(timer));
    socket.on('error', () => clearInterval(timer));
});

http.listen(port, '127.0.0.1', () => log({ listening: port }));
