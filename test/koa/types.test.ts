import type { RequestDrain } from '@drainkit/koa';
import { Router } from '@koa/router';
import Koa from 'koa';
import { describe, expect, expectTypeOf, it } from 'vitest';

describe('Koa typing through module augmentation', () => {
  it('types ctx.state.drain in app middleware and in @koa/router routes', () => {
    const app = new Koa();
    app.use((ctx) => {
      expectTypeOf(ctx.state.drain).toEqualTypeOf<RequestDrain>();
      expectTypeOf(ctx.state.drain.signal).toEqualTypeOf<AbortSignal>();
    });
    const router = new Router();
    router.get('/', (ctx) => {
      expectTypeOf(ctx.state.drain.drainAfterResponse).returns.resolves.toHaveProperty('forced');
    });
    // The checks above are compile-time (tsc over test/); this proves the file ran.
    expect(app.middleware).toHaveLength(1);
  });
});
