import https from 'node:https';
import { createDrainer } from '@drainkit/core';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate, slowOrFastListener } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';
import { testCertificate } from '../helpers/tls.js';

/** HTTP/1.1 over TLS: connections are tracked from 'secureConnection', where req.socket is the TLSSocket. */
const kind: ServerKind = {
  name: 'node:https',
  protocol: 'http/1.1',
  secure: true,
  async start() {
    const gate = slowGate();
    const server = https.createServer(await testCertificate(), slowOrFastListener(gate));
    const drainer = createDrainer(server);
    await listen(server);
    return kindApp(server, drainer, gate);
  },
};

export default kind;
