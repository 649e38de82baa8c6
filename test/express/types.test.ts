import type { RequestDrain } from '@drainkit/express';
import express from 'express';
import type { Request } from 'express';
import { describe, expect, expectTypeOf, it } from 'vitest';

describe('Express typing through module augmentation', () => {
  it('types req.drain on the Request of routes and routers', () => {
    const app = express();
    app.get('/', (req) => {
      expectTypeOf(req.drain).toEqualTypeOf<RequestDrain>();
      expectTypeOf(req.drain.connection?.state).toEqualTypeOf<'idle' | 'active' | 'draining' | 'closed' | undefined>();
    });
    expectTypeOf<Request['drain']>().toEqualTypeOf<RequestDrain>();
    // The checks above are compile-time (tsc over test/); this proves the file ran.
    expect(typeof app).toBe('function');
  });
});
