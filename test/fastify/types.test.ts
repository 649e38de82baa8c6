import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';
import drainkit, { drainkitAdmin } from '@drainkit/fastify';
import fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';

describe('Fastify typing through declaration merging', () => {
  it('types app.drainer and request.drain, on HTTP/1.1 and HTTP/2 instances', async () => {
    const app = fastify();
    await app.register(drainkit, { timeoutMs: 1_000, readinessPath: '/ready', livenessPath: '/live', handleSignals: false });
    await app.register(drainkitAdmin, { prefix: '/admin', authorize: (request) => request.headers.authorization === 'x' });
    app.get('/', async (request) => {
      expectTypeOf(request.drain).toEqualTypeOf<RequestDrain>();
      expectTypeOf(request.drain.connection?.state).toEqualTypeOf<'idle' | 'active' | 'draining' | 'closed' | undefined>();
      return 'ok';
    });
    expectTypeOf(app.drainer).toEqualTypeOf<Drainer>();
    expectTypeOf<FastifyInstance['drainer']>().toEqualTypeOf<Drainer>();
    expectTypeOf<FastifyRequest['drain']>().toEqualTypeOf<RequestDrain>();

    const h2 = fastify({ http2: true });
    await h2.register(drainkit);
    expectTypeOf(h2.drainer).toEqualTypeOf<Drainer>();
    // The checks above are compile-time (tsc over test/); these prove the file ran and the decorators exist.
    await app.ready();
    await h2.ready();
    expect(app.drainer.isReady()).toBe(true);
    expect(typeof (h2.server as { updateSettings?: unknown }).updateSettings).toBe('function');
    expect(h2.drainer.server).toBe(h2.server);
    await app.close();
    await h2.close();
  });
});
