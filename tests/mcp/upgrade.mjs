// tests/mcp/upgrade.mjs -- an upgraded connection (a WebSocket's first
// step) through nginx, for the nginx tests: send the upgrade request with
// $AIM_TOKEN as a Bearer token, then count what arrives for SECONDS (or
// until a SIGTERM).
//
//   node upgrade.mjs URL SECONDS
//     -> {"status":101,"chunks":N,"first_at":E,"last_at":E,"closed_at":E}
//        (Unix times in ms; closed_at 0 while the connection stayed open)
//        or {"status":401,...} when the upgrade is refused
import { request } from 'node:http';

const [url, seconds] = process.argv.slice(2);
const token = process.env.AIM_TOKEN || '';
const result = { status: null, chunks: 0, first_at: 0, last_at: 0, closed_at: 0 };

function done() {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
}

const req = request(url, {
    headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
});

req.on('upgrade', (res, socket) => {
    result.status = res.statusCode;
    socket.on('data', () => {
        result.chunks++;
        result.last_at = Date.now();
        if (!result.first_at) result.first_at = result.last_at;
    });
    socket.on('close', () => { result.closed_at = Date.now(); });
    socket.on('error', () => {});
    const end = () => { socket.destroy(); done(); };
    setTimeout(end, Number(seconds) * 1000);
    process.on('SIGTERM', end);
});
req.on('response', (res) => {
    result.status = res.statusCode;
    res.resume();
    res.on('end', done);
});
req.on('error', (e) => { result.error = String(e.message); done(); });
req.end();
