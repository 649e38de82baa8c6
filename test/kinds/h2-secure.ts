import http2 from 'node:http2';
import { createDrainer } from '@drainkit/core';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';
import { closeHttp2Sessions } from '../helpers/h2.js';
import { testCertificate } from '../helpers/tls.js';

/** HTTP/2 over TLS (ALPN h2) with the core 'stream' API. */
const kind: ServerKind = {
  name: 'node:http2 secure (stream API)',
  protocol: 'h2',
  secure: true,
  async start() {
    const gate = slowGate();
    const server = http2.createSecureServer(await testCertificate());
    server.on('stream', (stream, headers) => {
      const path = String(headers[':path']);
      if (path === '/slow') {
        void gate.enterSlow('/slow').then(() => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200 });
          stream.end('slow done');
        });
        return;
      }
      gate.calls.push(path);
      stream.respond({ ':status': 200 });
      stream.end('fast');
    });
    const drainer = createDrainer(server);
    const sessions = closeHttp2Sessions(server);
    await listen(server);
    return kindApp(server, drainer, gate, () => sessions.destroyAll());
  },
};

export default kind;
