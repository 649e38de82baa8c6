import { notAttachedError, readinessReply, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { Middleware } from 'koa';
import { send } from './send.js';

/**
 * A health route: 200 while serving, 503 with `Retry-After` from the moment
 * shutdown starts. `router.get('/ready', readiness())`, `readiness(drainer)`
 * without the drain middleware, or `app.use(readiness())` in a dedicated app.
 */
export function readiness(options?: ReadinessOptions): Middleware;
export function readiness(drainer: Drainer, options?: Omit<ReadinessOptions, 'drainer'>): Middleware;
export function readiness(options?: ReadinessOptions | Drainer, more?: Omit<ReadinessOptions, 'drainer'>): Middleware {
  const { drainer, retryAfterSeconds } = resolveReadinessOptions(options, more);
  return function drainkitReadiness(ctx) {
    const target = drainer ?? (ctx.state.drain as RequestDrain | undefined)?.drainer;
    if (!target) throw notAttachedError('readiness()');
    send(ctx, readinessReply(target, retryAfterSeconds));
  };
}
