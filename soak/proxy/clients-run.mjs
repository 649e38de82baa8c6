#!/usr/bin/env node
// Real clients through periodic drains, side by side (issue 16 item 5).
// Usage: node soak/proxy/clients-run.mjs [--seconds 10] [--clients agent,undici,chromium]
//        [--protocols h1,h2] [--options '{"idleGraceMs":0}'] [--runs 1] [--compare]
// --compare runs each client against the same server without drainkit too,
// drained by Node's own means (closeIdleConnections(), session.close()).
// Prints one line per client × protocol; exits non-zero when a request was lost,
// except for clients whose own bugs lose requests whatever the server does
// (undici with allowH2: docs/proxies.md). Imports the built @drainkit/core.
import { parseArgs } from 'node:util';
import { createDrainer } from '@drainkit/core';
import * as undici from 'undici';
import { generate } from 'selfsigned';
import { hasChromium, runClient } from './clients.mjs';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: 'agent,undici,chromium' },
    protocols: { type: 'string', default: 'h1,h2' },
    options: { type: 'string', default: '{}' },
    runs: { type: 'string', default: '1' },
    compare: { type: 'boolean', default: false },
  },
});
const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
  keySize: 2048,
  algorithm: 'sha256',
  extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
});
const tls = { key: pems.private, cert: pems.cert };
const drainerOptions = JSON.parse(flags.options);
/** Known client bugs: counted and shown, not failed on (docs/proxies.md names the upstream issues). */
const KNOWN_CLIENT_BUGS = new Set(['undici h2']);
let failed = 0;
for (const protocol of flags.protocols.split(',')) {
  for (const client of flags.clients.split(',')) {
    if (client === 'chromium' && !hasChromium) {
      console.log(`[clients] skip chromium: /usr/bin/chromium missing`);
      continue;
    }
    for (let run = 0; run < Number(flags.runs); run++) {
      for (const drainWith of flags.compare ? ['drainkit', 'node'] : ['drainkit']) {
        const r = await runClient({ client, protocol, seconds: Number(flags.seconds), drainWith, createDrainer, drainerOptions, tls, undici });
        const known = KNOWN_CLIENT_BUGS.has(`${client} ${protocol}`);
        // Chromium's own failures after a GOAWAY (never sent; soak/proxy/chromium-netlog.mjs) are the browser's.
        const serverLost = r.lost - (r.clientSide ?? 0);
        if (drainWith === 'drainkit' && serverLost > 0 && !known) failed++;
        const verdict = serverLost > 0 ? (known ? 'BUG ' : 'FAIL') : r.lost > 0 ? 'ok* ' : 'ok  ';
        console.log(
          `[clients] ${verdict} ${client.padEnd(8)} ${protocol} ${drainWith.padEnd(8)} ${r.seconds}s ${r.drains} drains: requests ${r.requests}, ok ${r.ok}, lost ${r.lost}` +
            ` ${JSON.stringify(r.clientSideWhy ?? r.why)}${r.unanswered === undefined ? '' : `, drainkit unanswered ${r.unanswered}`}`,
        );
      }
    }
  }
}
console.log('[clients] ok* = every loss failed inside the browser, unsent, after its HTTP/2 session got a GOAWAY (docs/proxies.md)');
process.exitCode = failed ? 1 : 0;
