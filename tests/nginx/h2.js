// node h2.js URL TOKEN... : one HTTP/2 connection, one stream per token
// ("-" for none), all opened at once; prints "status agent" per stream
const http2 = require('http2');
const [url, ...tokens] = process.argv.slice(2);
const u = new URL(url);
const s = http2.connect(u.origin);
s.on('error', e => { console.error(e.message); process.exit(1); });
let left = tokens.length;
const out = new Array(tokens.length);
tokens.forEach((t, i) => {
    const h = { ':path': u.pathname + i };
    if (t !== '-') h.authorization = 'Bearer ' + t;
    const r = s.request(h);
    let status = 0, body = '';
    r.on('response', hd => { status = hd[':status']; });
    r.setEncoding('utf8');
    r.on('data', d => { body += d; });
    r.on('end', () => {
        const m = /agent=([^|]*)\|/.exec(body);
        out[i] = status + ' ' + (m ? m[1] || '-' : '-');
        if (--left === 0) { console.log(out.join('\n')); s.close(); }
    });
    r.end();
});
