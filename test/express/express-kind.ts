import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { attach, drainMiddleware } from '@drainkit/express';
import type express from 'express';
import { listen } from '../helpers/net.js';
import { kindApp, slowGate } from '../helpers/server-kinds.js';
import type { ServerKind } from '../helpers/server-kinds.js';

/**
 * An Express app as a server kind of the shared drain suite. `shape` picks how
 * the drainer is wired: attach(app) or createDrainer(server) + drainMiddleware.
 */
export function expressKind(name: string, expressFactory: typeof express, shape: 'attach' | 'middleware'): ServerKind {
  return {
    name,
    protocol: 'http/1.1',
    secure: false,
    async start() {
      const gate = slowGate();
      const app = expressFactory();
      let server: http.Server;
      let drainer: Drainer;
      if (shape === 'attach') {
        const attached = attach(app, { host: '127.0.0.1' });
        ({ server, drainer } = attached);
        await attached.listening;
      } else {
        server = http.createServer(app);
        drainer = createDrainer(server);
        app.use(drainMiddleware(drainer));
        await listen(server);
      }
      app.get('/slow', (req, res) => {
        void gate.enterSlow(req.path).then(() => res.send('slow done'));
      });
      app.get('/fast', (req, res) => {
        gate.calls.push(req.path);
        res.send('fast');
      });
      return kindApp(server, drainer, gate);
    },
  };
}
