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
//   node client.mjs URL stream SECONDS        -> {"messages":N,"last_ms":T,
//                                                 "first_at":E,"last_at":E}
//       (open the GET stream and count server messages for SECONDS, or
//        until a SIGTERM; last_ms: when the last one arrived, from the
//        start; first_at, last_at: as Unix times in ms)
//
// With AIM_AUTH=1 the client has an OAuth provider, as an MCP host would:
// on a 401, or a 403 insufficient_scope, the SDK discovers the protected
// resource metadata and the authorization server and sends the user to
// authorize; the provider stops there and the outcome carries what the
// SDK asked for: "authorize":{"scope","resource","client_id"}.  The
// token, if any, is the provider's access token.
import { webcrypto } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

// Node 18 (Debian 12's) has Web Crypto only as node:crypto's webcrypto;
// the SDK uses the global, as Node 20 has it.
if (!globalThis.crypto) globalThis.crypto = webcrypto;

const [url, cmd, ...args] = process.argv.slice(2);
const token = process.env.AIM_TOKEN || '';

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

let authorize = null;
const provider = {
    get redirectUrl() { return 'http://127.0.0.1/callback'; },
    get clientMetadata() {
        return { redirect_uris: ['http://127.0.0.1/callback'], client_name: 'aim-test-client' };
    },
    clientInformation() { return { client_id: 'aim-test-client' }; },
    tokens() { return token ? { access_token: token, token_type: 'Bearer' } : undefined; },
    saveTokens() {},
    redirectToAuthorization(u) {
        authorize = {
            scope: u.searchParams.get('scope'),
            resource: u.searchParams.get('resource'),
            client_id: u.searchParams.get('client_id'),
        };
    },
    saveCodeVerifier() {},
    codeVerifier() { return 'v'; },
};
const useAuth = process.env.AIM_AUTH === '1';

function failure(e) {
    // StreamableHTTPError carries the HTTP status as .code.
    const status = typeof e?.code === 'number' && e.code >= 100 ? e.code : null;
    const f = { ok: false, status, error: String(e?.message ?? e).slice(0, 500) };
    if (authorize) f.authorize = authorize;
    return f;
}

const headers = token && !useAuth ? { Authorization: `Bearer ${token}` } : {};
const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers },
    ...(useAuth ? { authProvider: provider } : {}),
});
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
        let n = 0, last = 0, first = 0;
        client.setNotificationHandler(LoggingMessageNotificationSchema, () => {
            n++;
            last = Date.now() - start;
            if (!first) first = Date.now();
        });
        await client.setLoggingLevel('info').catch(() => {});
        // until SECONDS have passed, or a SIGTERM says enough
        await new Promise((r) => {
            setTimeout(r, Number(args[0]) * 1000);
            process.on('SIGTERM', r);
        });
        out({ messages: n, last_ms: last, first_at: first, last_at: last ? start + last : 0 });
    } else {
        out({ ok: false, error: `unknown command ${cmd}` });
    }
} catch (e) {
    out(failure(e));
}
await transport.close().catch(() => {});
process.exit(0);
