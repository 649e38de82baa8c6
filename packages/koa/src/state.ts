import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { createRequestDrain, isDrainerLike } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { RequestDrain } from '@drainkit/core/adapter';
import type { Middleware } from 'koa';

declare module 'koa' {
  interface DefaultState {
    /** Set by drainMiddleware() or attach(): the request's connection, drain signal and drainAfterResponse(). */
    drain: RequestDrain;
  }
}

/** Gives every request `ctx.state.drain`: its connection, its drain `signal` and `drainAfterResponse()`. */
export function drainMiddleware(drainer: Drainer): Middleware {
  if (!isDrainerLike(drainer)) {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, 'drainMiddleware(drainer): drainer must come from createDrainer()');
  }
  return function drainkitMiddleware(ctx, next) {
    // attach() may have installed one already, in front of everything.
    if ((ctx.state.drain as RequestDrain | undefined)?.drainer !== drainer) ctx.state.drain = createRequestDrain(drainer, ctx.req);
    return next();
  };
}
