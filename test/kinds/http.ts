import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate, slowOrFastListener } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';

const kind: ServerKind = {
  name: 'node:http',
  protocol: 'http/1.1',
  secure: false,
  async start() {
    const gate = slowGate();
    const server = http.createServer(slowOrFastListener(gate));
    const drainer = createDrainer(server);
    await listen(server);
    return kindApp(server, drainer, gate);
  },
};

export default kind;
