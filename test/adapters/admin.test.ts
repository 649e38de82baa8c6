import { isDrainError } from '@drainkit/core';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { parseResponses } from '../express/raw-responses.js';
import { RawClient, get, until } from '../helpers/net.js';
import { frameworks } from './frameworks.js';
import { ADMIN_AUTH } from './test-app.js';
import type { TestApp, TestAppOptions } from './test-app.js';

describe.each(frameworks)('adminRouter() options ($name)', (framework) => {
  it('refuses to be created without an authorize function', () => {
    for (const options of [undefined, {}, { authorize: 'yes' }, { authorize: true }]) {
      let caught: unknown;
      try {
        framework.adminRouter(options);
      } catch (error) {
        caught = error;
      }
      expect(isDrainError(caught, 'ERR_DRAIN_INVALID_OPTION'), JSON.stringify(options)).toBe(true);
    }
  });

  it('refuses unknown options, a bad drainer, challenge or body limit', () => {
    const authorize = () => true;
    for (const extra of [{ bogus: 1 }, { drainer: {} }, { challenge: '' }, { challenge: 'Basic\r\nX: y' }, { bodyLimit: 0 }]) {
      expect(() => framework.adminRouter({ authorize, ...extra }), JSON.stringify(extra)).toThrow(
        expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }),
      );
    }
  });
});

describe.each(frameworks)('adminRouter on $name', (framework) => {
  let target: TestApp | undefined;
  const clients: RawClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await target?.close();
    target = undefined;
  });

  async function start(options?: TestAppOptions): Promise<TestApp> {
    target = await framework.start(options);
    return target;
  }

  /** A keep-alive connection that served one request and is now idle. */
  async function idleClient(app: TestApp): Promise<{ client: RawClient; id: string }> {
    const client = await RawClient.connect(app.port);
    clients.push(client);
    client.write(get('/fast'));
    await client.waitFor(() => parseResponses(client.data).length === 1, '/fast');
    const found = app.drainer.connections().find((c) => c.remotePort === client.socket.localPort)!;
    await until(() => found.state === 'idle');
    return { client, id: found.id };
  }

  const auth = { authorization: ADMIN_AUTH };

  describe('authorization', () => {
    it('401 with WWW-Authenticate when authorize says no and there are no credentials', async () => {
      const app = await start();
      const res = await supertest(app.server).get('/admin/connections').expect(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="drainkit"');
      expect(res.body).toEqual({ code: 'ERR_ADMIN_UNAUTHENTICATED', message: expect.any(String) });
    });

    it('403 when authorize says no to a request that has credentials', async () => {
      const app = await start();
      const wrong = `Basic ${Buffer.from('admin:wrong').toString('base64')}`;
      const res = await supertest(app.server).get('/admin/connections').set('authorization', wrong).expect(403);
      expect(res.body.code).toBe('ERR_ADMIN_FORBIDDEN');
      await supertest(app.server).post('/admin/shutdown').set('cookie', 'session=x').send({}).expect(403);
      expect(app.drainer.isReady()).toBe(true);
    });

    it("'unauthenticated' and 'forbidden' verdicts choose the status; a custom challenge is sent", async () => {
      const app = await start({
        admin: {
          authorize: (header) => (header('x-role') === 'guest' ? 'forbidden' : header('x-role') === 'ops' || 'unauthenticated'),
          challenge: 'Bearer realm="ops"',
        },
      });
      const anonymous = await supertest(app.server).get('/admin/stats').set(auth).expect(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="ops"');
      await supertest(app.server).get('/admin/stats').set('x-role', 'guest').expect(403);
      await supertest(app.server).get('/admin/stats').set('x-role', 'ops').expect(200);
    });

    it('an async authorize is awaited', async () => {
      const app = await start({ admin: { authorize: async (header) => header('authorization') === ADMIN_AUTH } });
      await supertest(app.server).get('/admin/stats').set(auth).expect(200);
      await supertest(app.server).get('/admin/stats').expect(401);
    });

    it("a throwing authorize goes to the framework's error handling (its status is kept) and nothing runs", async () => {
      const app = await start({
        admin: {
          authorize: () => {
            throw Object.assign(new Error('token expired'), { status: 401, code: 'TOKEN_EXPIRED' });
          },
        },
      });
      const res = await supertest(app.server).post('/admin/shutdown').set(auth).send({}).expect(401);
      expect(res.body).toEqual({ code: 'TOKEN_EXPIRED', message: 'token expired' });
      expect(app.drainer.isReady()).toBe(true);
    });

    it('an authorize that answers something else fails closed', async () => {
      const app = await start({ admin: { authorize: () => 'yes' as never } });
      const res = await supertest(app.server).post('/admin/shutdown').set(auth).send({}).expect(500);
      expect(res.body.code).toBe('ERR_DRAIN_INVALID_ARGUMENT');
      expect(app.drainer.isReady()).toBe(true);
    });
  });

  describe('reading', () => {
    it('GET /connections lists every connection as plain JSON', async () => {
      const app = await start();
      const { id } = await idleClient(app);
      const res = await supertest(app.server).get('/admin/connections').set(auth).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body as { now: number; connections: Array<Record<string, unknown>> };
      expect(body.now).toBeTypeOf('number');
      const idle = body.connections.find((c) => c.id === id);
      expect(idle).toEqual({
        id,
        remoteAddress: '127.0.0.1',
        remotePort: expect.any(Number),
        protocol: 'http/1.1',
        secure: false,
        openedAt: expect.any(Number),
        lastActiveAt: expect.any(Number),
        requestsServed: 1,
        inFlight: 0,
        state: 'idle',
      });
      // The admin request's own connection is there too, serving it.
      expect(body.connections.some((c) => c.state === 'active' && c.inFlight === 1)).toBe(true);
    });

    it('GET /stats answers the drainer stats; HEAD answers without a body', async () => {
      const app = await start();
      await idleClient(app);
      const res = await supertest(app.server).get('/admin/stats').set(auth).expect(200);
      expect(res.body).toMatchObject({ open: 2, idle: 1, active: 1, state: 'serving' });
      const head = await supertest(app.server).head('/admin/stats').set(auth).expect(200);
      expect(head.text ?? '').toBe('');
    });

    it('a wrong method is a 405 with Allow; an unknown path falls through to the app', async () => {
      const app = await start();
      const wrong = await supertest(app.server).post('/admin/connections').set(auth).send({}).expect(405);
      expect(wrong.headers.allow?.split(', ').sort()).toEqual(['GET', 'HEAD']);
      // Express's adminRouter writes Allow itself, in this order; Koa's comes from router.allowedMethods().
      if (framework.family === 'express') expect(wrong.headers.allow).toBe('GET, HEAD');
      await supertest(app.server).get('/admin/nothing-here').set(auth).expect(404);
      expect(app.seen).toContain('/admin/nothing-here');
    });

    it('works from { drainer } without the drain middleware, and says ERR_DRAIN_NOT_ATTACHED with neither', async () => {
      const app = await start({ withoutDrainMiddleware: true });
      const res = await supertest(app.server).get('/admin/stats').set(auth).expect(500);
      expect(res.body.code).toBe('ERR_DRAIN_NOT_ATTACHED');
      const ready = await supertest(app.server).get('/ready').expect(500);
      expect(ready.body.code).toBe('ERR_DRAIN_NOT_ATTACHED');
      // A second app, given the drainer explicitly.
      const withDrainer = framework.explicitDrainerApp(app.drainer);
      const other = await supertest(withDrainer).get('/explicit-admin/stats').expect(200);
      expect(other.body).toMatchObject({ state: 'serving', accepted: app.drainer.stats().accepted });
      await app.drainer.shutdown();
      const notReady = await supertest(withDrainer).get('/explicit-ready').expect(503);
      expect(notReady.headers['retry-after']).toBe('9');
    });
  });

  describe('draining', () => {
    it('POST /connections/:id/drain drains that connection (202) and no other', async () => {
      const app = await start();
      const first = await idleClient(app);
      const second = await idleClient(app);
      const res = await supertest(app.server).post(`/admin/connections/${first.id}/drain`).set(auth).send({ timeoutMs: 1_000, reason: 'test' }).expect(202);
      expect(res.body).toEqual({ draining: [first.id] });
      await first.client.closed;
      expect(first.client.error).toBeUndefined();
      expect(app.drainer.get(second.id)?.state).toBe('idle');
    });

    it('an unknown id is a 404 with ERR_DRAIN_UNKNOWN_CONNECTION', async () => {
      const app = await start();
      const res = await supertest(app.server).post('/admin/connections/999-999/drain').set(auth).send({}).expect(404);
      expect(res.body).toEqual({ code: 'ERR_DRAIN_UNKNOWN_CONNECTION', message: expect.stringContaining('999-999') });
      await supertest(app.server).post('/admin/connections/%E0%A4%A/drain').set(auth).send({}).expect(404);
    });

    it('bad drain options are a 400 with ERR_DRAIN_INVALID_OPTION, and the connection stays', async () => {
      const app = await start();
      const { id } = await idleClient(app);
      for (const body of [{ timeoutMs: -1 }, { timeoutMs: 'soon' }, { timeoutMs: Number.MAX_SAFE_INTEGER }, { reason: 5 }, { wait: true }]) {
        const res = await supertest(app.server).post(`/admin/connections/${id}/drain`).set(auth).send(body).expect(400);
        expect(res.body.code, JSON.stringify(body)).toBe('ERR_DRAIN_INVALID_OPTION');
      }
      expect(app.drainer.get(id)?.state).toBe('idle');
    });

    it('bodies: JSON only (415 otherwise), valid JSON (400), an object (400), within the limit (413)', async () => {
      const app = await start({ admin: { bodyLimit: 64 } });
      const { id } = await idleClient(app);
      const path = `/admin/connections/${id}/drain`;
      const noType = await supertest(app.server).post(path).set(auth).expect(415);
      expect(noType.body.code).toBe('ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE');
      await supertest(app.server).post(path).set(auth).type('form').send('timeoutMs=5').expect(415);
      await supertest(app.server).post(path).set(auth).set('content-type', 'text/plain').send('{}').expect(415);
      const broken = await supertest(app.server).post(path).set(auth).set('content-type', 'application/json').send('{"timeoutMs":').expect(400);
      expect(broken.body.code).toBe('ERR_ADMIN_INVALID_JSON');
      const array = await supertest(app.server).post(path).set(auth).send([1]).expect(400);
      expect(array.body.code).toBe('ERR_DRAIN_INVALID_OPTION');
      const large = await supertest(app.server).post(path).set(auth).send({ reason: 'x'.repeat(200) }).expect(413);
      expect(large.body.code).toBe('ERR_ADMIN_BODY_TOO_LARGE');
      expect(app.drainer.get(id)?.state).toBe('idle');
      // An empty JSON body means "no options".
      await supertest(app.server).post(path).set(auth).set('content-type', 'application/json').expect(202);
    });

    it('uses a body a body parser already parsed (express.json(), ctx.request.body)', async () => {
      const app = await start({ json: true });
      const { id, client } = await idleClient(app);
      await supertest(app.server).post(`/admin/connections/${id}/drain`).set(auth).send({ timeoutMs: -1 }).expect(400);
      await supertest(app.server).post(`/admin/connections/${id}/drain`).set(auth).send({ reason: 'parsed' }).expect(202);
      await client.closed;
    });

    it('POST /drain drains the connections its filter selects', async () => {
      const app = await start();
      const a = await idleClient(app);
      const b = await idleClient(app);
      const res = await supertest(app.server)
        .post('/admin/drain')
        .set(auth)
        .send({ state: 'idle', protocol: ['http/1.1'], remoteAddress: '::ffff:127.0.0.1', minRequestsServed: 1, timeoutMs: 1_000 })
        .expect(202);
      expect([...(res.body as { draining: string[] }).draining].sort()).toEqual([a.id, b.id].sort());
      await Promise.all([a.client.closed, b.client.closed]);
      // Exactly those two: the admin request's own (active) connection was not selected.
      await until(() => app.drainer.stats().drained === 2, 2_000, 'both drains recorded');
      expect(app.drainer.stats()).toMatchObject({ drained: 2, forcedClosed: 0 });
    });

    it('POST /drain with a filter that selects nothing drains nothing', async () => {
      const app = await start();
      const { id } = await idleClient(app);
      const res = await supertest(app.server).post('/admin/drain').set(auth).send({ minAgeMs: 3_600_000 }).expect(202);
      expect(res.body).toEqual({ draining: [] });
      expect(app.drainer.get(id)?.state).toBe('idle');
    });

    it('POST /drain validates the filter and the options (400, never a 500)', async () => {
      const app = await start();
      const { id } = await idleClient(app);
      const bad = [
        { protocol: 'h3' },
        { state: [] },
        { state: 'closed' },
        { ids: [1] },
        { remoteAddress: '' },
        { secure: 'yes' },
        { minAgeMs: -5 },
        { maxAgeMs: 'old' },
        { minRequestsServed: 1.5 },
        { concurrency: 0 },
        { spreadMs: -1 },
        { everything: true },
      ];
      for (const body of bad) {
        const res = await supertest(app.server).post('/admin/drain').set(auth).send(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.code, JSON.stringify(body)).toBe('ERR_DRAIN_INVALID_OPTION');
      }
      expect(app.drainer.get(id)?.state).toBe('idle');
    });

    it('POST /shutdown starts the shutdown (202): readiness fails, the reply still arrives', async () => {
      const app = await start();
      const shutdownReport = new Promise((resolve) => app.drainer.on('drain:end', (report) => report.kind === 'shutdown' && resolve(report)));
      const res = await supertest(app.server).post('/admin/shutdown').set(auth).send({ timeoutMs: 2_000 }).expect(202);
      expect(res.body).toEqual({ state: 'shutting-down' });
      expect(app.drainer.isReady()).toBe(false);
      expect(await shutdownReport).toMatchObject({ kind: 'shutdown', forced: 0 });
    });

    it('POST /shutdown with bad options is a 400 and does not shut down', async () => {
      const app = await start();
      const res = await supertest(app.server).post('/admin/shutdown').set(auth).send({ shutdownDelayMs: -1 }).expect(400);
      expect(res.body.code).toBe('ERR_DRAIN_INVALID_OPTION');
      expect(app.drainer.isReady()).toBe(true);
    });
  });

  describe('HTML page', () => {
    it('GET / serves a self-contained page with a strict CSP, with or without the trailing slash', async () => {
      const app = await start();
      for (const path of ['/admin', '/admin/']) {
        const res = await supertest(app.server).get(path).set(auth).expect(200);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(res.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; connect-src 'self'/);
        expect(res.text).toContain('<table>');
        expect(res.text).not.toMatch(/<script[^>]+src=|<link /);
      }
      await supertest(app.server).get('/admin/').expect(401);
    });
  });
});
