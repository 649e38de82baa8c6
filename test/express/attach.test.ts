// Express-only behaviours of attach(): req.drain is an accessor on the app's
// request prototype (made on first read), so it must reach mounted sub-apps,
// stay per request, and be right for an app attached to two servers.
import http from 'node:http';
import type { Drainer } from '@drainkit/core';
import { attach } from '@drainkit/express';
import express from 'express';
import type { Request } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { request } from '../helpers/net.js';

describe('Express attach(): req.drain', () => {
  const { servers, drainers } = cleanupAfterEach();
  const agent = new http.Agent({ keepAlive: true });
  // Registered after cleanupAfterEach(): runs before it (vitest runs after-hooks in reverse), clients first.
  afterEach(() => agent.destroy());

  async function attachTo(app: express.Express): Promise<{ drainer: Drainer; port: number }> {
    const attached = attach(app, { host: '127.0.0.1' });
    servers.push(attached.server);
    drainers.push(attached.drainer);
    return { drainer: attached.drainer, port: (await attached.listening).port };
  }

  const describeDrain = (req: Request, drainers: Drainer[]) => ({
    drainer: drainers.indexOf(req.drain.drainer),
    connection: req.drain.connection?.id ?? null,
    own: Object.hasOwn(req, 'drain'),
  });

  it('reaches a mounted sub-app and a router, and is the same object for the whole request', async () => {
    const app = express();
    const sub = express();
    const seen: unknown[] = [];
    const { drainer, port } = await attachTo(app);
    app.use((req, _res, next) => {
      (req as Request & { first?: unknown }).first = req.drain;
      next();
    });
    sub.get('/x', (req, res) => {
      seen.push(req.drain === (req as Request & { first?: unknown }).first);
      res.json(describeDrain(req, [drainer]));
    });
    app.use('/sub', sub);
    const res = await request(agent, port, '/sub/x');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ drainer: 0, connection: drainer.connections()[0]!.id, own: true });
    expect(seen).toEqual([true]);
  });

  it('a request that never reads req.drain gets none of its own; one the app assigns is kept', async () => {
    const app = express();
    const { port } = await attachTo(app);
    let untouched: boolean | undefined;
    app.get('/untouched', (req, res) => {
      untouched = !Object.hasOwn(req, 'drain');
      res.end('ok');
    });
    app.get('/assigned', (req, res) => {
      (req as { drain: unknown }).drain = 'mine';
      res.json({ drain: req.drain as unknown });
    });
    await request(agent, port, '/untouched');
    expect(untouched).toBe(true);
    expect(JSON.parse((await request(agent, port, '/assigned')).body)).toEqual({ drain: 'mine' });
    expect(Object.hasOwn(app.request, 'drain')).toBe(true);
    expect((app.request as { drain?: unknown }).drain).toBeUndefined();
  });

  it('one app attached to two servers: every request gets its own server\'s drainer', async () => {
    const app = express();
    const all: Drainer[] = [];
    app.get('/', (req, res) => {
      res.json(describeDrain(req, all));
    });
    const first = await attachTo(app);
    const second = await attachTo(app);
    all.push(first.drainer, second.drainer);
    const a = JSON.parse((await request(agent, first.port, '/')).body);
    const b = JSON.parse((await request(agent, second.port, '/')).body);
    expect(a).toMatchObject({ drainer: 0, connection: first.drainer.connections()[0]!.id });
    expect(b).toMatchObject({ drainer: 1, connection: second.drainer.connections()[0]!.id });
  });
});
