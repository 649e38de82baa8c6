// drainMiddleware() in a top-level Express app defines req.drain lazily on the app's
// request prototype (as attach() does): an own property on every request cost Express
// a new hidden class per request (bench/instructions-notes.md, "Adapters"). It must
// still reach mounted sub-apps, be per request, and survive a sub-app's own middleware.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDrainer } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { drainMiddleware } from '@drainkit/express';
import express from 'express';
import type { Request } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { request } from '../helpers/net.js';

describe('Express drainMiddleware(): req.drain', () => {
  const { servers, drainers } = cleanupAfterEach();
  const agent = new http.Agent({ keepAlive: true });
  // Registered after cleanupAfterEach(): runs before it (vitest runs after-hooks in reverse), clients first.
  afterEach(() => agent.destroy());

  /** A server with its drainer; `wire` builds the app with drainMiddleware(drainer). */
  async function serve(wire: (drainer: Drainer) => express.Express): Promise<{ drainer: Drainer; port: number }> {
    const server = http.createServer();
    const drainer = createDrainer(server);
    servers.push(server);
    drainers.push(drainer);
    server.on('request', wire(drainer));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { drainer, port: (server.address() as AddressInfo).port };
  }

  it('reaches a mounted sub-app, is made on first read, and is each request\'s own', async () => {
    const handles: unknown[] = [];
    const untouched: boolean[] = [];
    const { drainer, port } = await serve((drainer) => {
      const app = express();
      const sub = express();
      app.use(drainMiddleware(drainer));
      app.get('/untouched', (req, res) => {
        untouched.push(!Object.hasOwn(req, 'drain'));
        res.end('ok');
      });
      sub.get('/x', (req, res) => {
        handles.push(req.drain);
        res.json({ connection: req.drain.connection?.id ?? null, sameDrainer: req.drain.drainer === drainer, own: Object.hasOwn(req, 'drain') });
      });
      app.use('/sub', sub);
      return app;
    });
    for (const path of ['/untouched', '/untouched']) expect((await request(agent, port, path)).status).toBe(200);
    const first = JSON.parse((await request(agent, port, '/sub/x')).body);
    const second = JSON.parse((await request(agent, port, '/sub/x')).body);
    expect(untouched).toEqual([true, true]);
    expect(first).toEqual({ connection: drainer.connections()[0]!.id, sameDrainer: true, own: true });
    expect(second).toEqual(first);
    expect(handles[0]).not.toBe(handles[1]);
  });

  it('used inside a mounted sub-app, req.drain stays on the request once it is back in the parent', async () => {
    const { drainer, port } = await serve((drainer) => {
      const app = express();
      const sub = express();
      sub.use(drainMiddleware(drainer));
      app.use('/sub', sub);
      app.get('/sub/after', (req, res) => {
        res.json({ sameDrainer: (req as Request).drain?.drainer === drainer, connection: req.drain?.connection?.id ?? null });
      });
      return app;
    });
    for (let i = 0; i < 2; i++) {
      expect(JSON.parse((await request(agent, port, '/sub/after')).body)).toEqual({ sameDrainer: true, connection: drainer.connections()[0]!.id });
    }
  });
});
