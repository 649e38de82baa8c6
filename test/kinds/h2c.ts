import http2 from 'node:http2';
import { createDrainer } from '@drainkit/core';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate, slowOrFastListener } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';
import { closeHttp2Sessions } from '../helpers/h2.js';

/** Cleartext HTTP/2 (prior knowledge) with the compatibility API ('request' with req/res). */
const kind: ServerKind = {
  name: 'node:http2 h2c (compat API)',
  protocol: 'h2',
  secure: false,
  async start() {
    const gate = slowGate();
    const server = http2.createServer(slowOrFastListener(gate));
    const drainer = createDrainer(server);
    const sessions = closeHttp2Sessions(server);
    await listen(server);
    return kindApp(server, drainer, gate, () => sessions.destroyAll());
  },
};

export default kind;
