import { attach } from '@drainkit/koa';
import Koa from 'koa';
import Koa2 from 'koa2';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { closeServer } from '../helpers/net.js';

// Koa-only behaviours of attach(); what every framework shares is in test/adapters/middleware.test.ts.
const majors = [
  ['koa 3', Koa],
  ['koa 2', Koa2],
] as const;

describe.each(majors)('@drainkit/koa attach() on %s', (_major, KoaClass) => {
  it('attach() gives ctx.state.drain to middleware registered before it, without a middleware of its own', async () => {
    const app = new KoaClass();
    app.use((ctx) => {
      ctx.body = { hasDrain: ctx.state.drain !== undefined, id: ctx.state.drain?.connection?.id ?? null };
    });
    const attached = attach(app, { host: '127.0.0.1' });
    expect(app.middleware).toHaveLength(1);
    await attached.listening;
    const res = await supertest(attached.server).get('/').expect(200);
    expect(res.body).toMatchObject({ hasDrain: true, id: expect.stringMatching(/^\d+-\d+$/) });
    attached.drainer.dispose();
    await closeServer(attached.server);
  });

  it('attach() refuses what is not a Koa app', () => {
    expect(() => attach((() => undefined) as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
  });
});
