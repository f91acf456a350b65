// tests/mcp/client.mjs -- an MCP client (the official TypeScript SDK,
// Streamable HTTP) for the nginx tests.  The token comes from $AIM_TOKEN
// (sent as "Authorization: Bearer"); every outcome is printed as one JSON
// line for the shell to assert on.
//
//   node client.mjs URL tools                 -> {"ok":true,"tools":[...]}
//   node client.mjs URL call TOOL 'JSON'      -> {"ok":true,"text":...} or
//                                                {"ok":false,"status":403,...}
//   node client.mjs URL progress N            -> {"ok":true,"progress":N}
//   node client.mjs URL read URI              -> {"ok":true,"text":...}
//   node client.mjs URL prompt NAME 'JSON'    -> {"ok":true,"messages":N}
//   node client.mjs URL stream SECONDS        -> {"messages":N,"last_ms":T}
//       (open the GET stream and count server messages; last_ms: when the
//        last one arrived, from the start)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const [url, cmd, ...args] = process.argv.slice(2);
const token = process.env.AIM_TOKEN || '';

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function failure(e) {
    // StreamableHTTPError carries the HTTP status as .code.
    const status = typeof e?.code === 'number' && e.code >= 100 ? e.code : null;
    return { ok: false, status, error: String(e?.message ?? e).slice(0, 500) };
}

const headers = token ? { Authorization: `Bearer ${token}` } : {};
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
const client = new Client({ name: 'aim-test-client', version: '1.0.0' });

try {
    await client.connect(transport);
} catch (e) {
    out(failure(e));
    process.exit(0);
}

try {
    if (cmd === 'tools') {
        const r = await client.listTools();
        out({ ok: true, tools: r.tools.map((t) => t.name).sort() });
    } else if (cmd === 'call') {
        const r = await client.callTool({ name: args[0], arguments: JSON.parse(args[1] || '{}') });
        out({ ok: !r.isError, text: r.content?.[0]?.text ?? null });
    } else if (cmd === 'progress') {
        let seen = 0;
        const r = await client.callTool({ name: 'count', arguments: { n: Number(args[0]) } },
            undefined, { onprogress: () => { seen++; } });
        out({ ok: !r.isError, progress: seen, text: r.content?.[0]?.text ?? null });
    } else if (cmd === 'read') {
        const r = await client.readResource({ uri: args[0] });
        out({ ok: true, text: r.contents?.[0]?.text ?? null });
    } else if (cmd === 'prompt') {
        const r = await client.getPrompt({ name: args[0], arguments: JSON.parse(args[1] || '{}') });
        out({ ok: true, messages: r.messages.length });
    } else if (cmd === 'stream') {
        const start = Date.now();
        let n = 0, last = 0;
        client.setNotificationHandler(LoggingMessageNotificationSchema, () => {
            n++;
            last = Date.now() - start;
        });
        await client.setLoggingLevel('info').catch(() => {});
        await new Promise((r) => setTimeout(r, Number(args[0]) * 1000));
        out({ messages: n, last_ms: last });
    } else {
        out({ ok: false, error: `unknown command ${cmd}` });
    }
} catch (e) {
    out(failure(e));
}
await transport.close().catch(() => {});
process.exit(0);
