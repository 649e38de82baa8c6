import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import { closeServer, listen } from '../helpers/net.js';
import { slowGate } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';

const kind: ServerKind = {
  name: 'node:http',
  protocol: 'http/1.1',
  secure: false,
  async start() {
    const gate = slowGate();
    const server = http.createServer((req, res) => {
      if (req.url === '/slow') {
        void gate.enterSlow('/slow').then(() => res.end('slow done'));
        return;
      }
      gate.calls.push(req.url ?? '');
      res.end('fast');
    });
    const drainer = createDrainer(server);
    const port = await listen(server);
    return {
      port,
      drainer,
      calls: gate.calls,
      release: gate.release,
      slowStarted: gate.slowStarted,
      async close() {
        gate.release();
        drainer.dispose();
        await closeServer(server);
      },
    };
  },
};

export default kind;
