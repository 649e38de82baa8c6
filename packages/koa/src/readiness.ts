import { notAttachedError, readinessReply, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
import type { Middleware } from 'koa';
import { send } from './send.js';

/**
 * A health route: 200 while serving, 503 with `Retry-After` from the moment
 * shutdown starts. `router.get('/ready', readiness())`, or `app.use(readiness())`
 * in a dedicated app.
 */
export function readiness(options?: ReadinessOptions): Middleware {
  const { drainer, retryAfterSeconds } = resolveReadinessOptions(options);
  return function drainkitReadiness(ctx) {
    const target = drainer ?? (ctx.state.drain as RequestDrain | undefined)?.drainer;
    if (!target) throw notAttachedError('readiness()');
    send(ctx, readinessReply(target, retryAfterSeconds));
  };
}
