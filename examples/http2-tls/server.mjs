// drainkit + node:http2 over TLS. One http2.createSecureServer({ allowHTTP1: true })
// carries HTTP/2 and HTTP/1.1 clients; each connection is drained the way its
// protocol allows: GOAWAY twice for HTTP/2, `Connection: close` for HTTP/1.1.
//
//   npm run serve             (PORT=8443 by default; a self-signed certificate is made at start)
//   curl -k --http2 https://127.0.0.1:8443/slow?ms=5000 &   kill -TERM <pid>
//
// `npm start` runs demo.mjs instead: server and clients in one process, printing each step.
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { createDrainer } from '@drainkit/core';
import { generate } from 'selfsigned';

/** A certificate for 127.0.0.1 made at run time: no private key is kept in the repository. */
async function selfSignedCertificate() {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return { key: pems.private, cert: pems.cert };
}

export async function startServer({ port = 8443, log = console.log } = {}) {
  const server = http2.createSecureServer({ ...(await selfSignedCertificate()), allowHTTP1: true }, (req, res) => {
    const url = new URL(req.url, 'https://localhost');
    // req.httpVersion tells the two protocols apart inside one handler.
    const via = req.httpVersion === '2.0' ? 'HTTP/2' : 'HTTP/1.1';
    if (url.pathname === '/slow') {
      log(`[server] ${via} ${req.url} started`);
      const ms = Math.min(Number(url.searchParams.get('ms')) || 1_000, 60_000);
      setTimeout(() => res.end(`slow done after ${ms} ms (${via})\n`), ms);
      return;
    }
    if (url.pathname === '/events') {
      // A long-lived response: the drain signal tells it to say goodbye and end,
      // so the drain does not have to wait for its deadline.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      let tick = 0;
      res.write(`data: tick ${tick}\n\n`);
      const timer = setInterval(() => res.write(`data: tick ${++tick}\n\n`), 1_000);
      const signal = drainer.signalFor(req);
      signal.addEventListener('abort', () => {
        clearInterval(timer);
        res.end(`event: bye\ndata: ${signal.reason.code}\n\n`);
      }, { once: true });
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(`hello over ${via}\n`);
  });

  const drainer = createDrainer(server, { timeoutMs: 10_000 });
  drainer.on('connection:open', ({ connection }) =>
    log(`[server] connection ${connection.id} opened: ${connection.protocol}${connection.secure ? ' over TLS' : ''}`),
  );
  drainer.on('drain:start', ({ kind, total }) => log(`[server] ${kind} drain started for ${total} connection(s)`));
  drainer.on('connection:drained', (r) =>
    log(`[server] connection ${r.id} (${r.protocol}) drained: forced=${r.forced}, completed=${r.completedRequests}, refused/dropped=${r.droppedRequests}, ${r.durationMs} ms`),
  );
  drainer.on('shutdown:phase', ({ phase }) => log(`[server] shutdown phase: ${phase}`));

  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${server.address().port}`;
  return { server, drainer, url };
}

// Run directly: serve until SIGTERM/SIGINT, then shut down gracefully.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { drainer, url } = await startServer({ port: Number(process.env.PORT ?? 8443) });
  // SIGTERM / SIGINT: not ready any more, every connection drains, then the
  // process exits (0 when nothing was forced); a second signal forces.
  drainer.handleSignals({
    onDone: ({ trigger, report }) =>
      console.log(`[server] ${trigger}: shutdown done: ${report ? `${report.closed} closed gracefully, ${report.forced} forced` : 'cut short'}`),
  });
  // Printed once the handlers are in place: a SIGTERM sent on seeing this line is handled.
  console.log(`[server] listening on ${url} (HTTP/2 and HTTP/1.1; self-signed certificate: use curl -k)`);
}
