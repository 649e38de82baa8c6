import http2 from 'node:http2';
import { createDrainer } from '@drainkit/core';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate, slowOrFastListener } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';
import { closeHttp2Sessions } from '../helpers/h2.js';
import { testCertificate } from '../helpers/tls.js';

/**
 * One http2.createSecureServer({ allowHTTP1: true }) reached by both protocols:
 * an HTTP/1.1 client (ALPN http/1.1) and an h2 client. Each connection must be
 * reported with the protocol it speaks.
 */
function allowHttp1Kind(protocol: 'http/1.1' | 'h2'): ServerKind {
  return {
    name: `node:http2 secure allowHTTP1, ${protocol} client`,
    protocol,
    secure: true,
    async start() {
      const gate = slowGate();
      const server = http2.createSecureServer({ ...(await testCertificate()), allowHTTP1: true }, slowOrFastListener(gate));
      const drainer = createDrainer(server);
      const sessions = closeHttp2Sessions(server);
      await listen(server);
      return kindApp(server, drainer, gate, () => sessions.destroyAll());
    },
  };
}

export default [allowHttp1Kind('http/1.1'), allowHttp1Kind('h2')];
