import { livenessReply, notAttachedError, readinessWithChecks, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
import type { Middleware } from 'koa';
import { send } from './send.js';

/**
 * A health route: 200 while serving and every critical `drainer.healthCheck()`
 * is up, 503 with `Retry-After` from the moment shutdown starts (or while a
 * critical check is down). `router.get('/ready', readiness())`, `readiness(drainer)`
 * without the drain middleware, or `app.use(readiness())` in a dedicated app.
 */
export function readiness(options?: ReadinessOptions): Middleware;
export function readiness(drainer: Drainer, options?: Omit<ReadinessOptions, 'drainer'>): Middleware;
export function readiness(options?: ReadinessOptions | Drainer, more?: Omit<ReadinessOptions, 'drainer'>): Middleware {
  const { drainer, retryAfterSeconds } = resolveReadinessOptions(options, more);
  return async function drainkitReadiness(ctx) {
    const target = drainer ?? (ctx.state.drain as RequestDrain | undefined)?.drainer;
    if (!target) throw notAttachedError('readiness()');
    send(ctx, await readinessWithChecks(target, retryAfterSeconds));
  };
}

/** A liveness route: 200 for as long as the process answers, during a graceful shutdown too. `router.get('/live', liveness())`. */
export function liveness(options?: { drainer?: Drainer }): Middleware {
  const { drainer } = resolveReadinessOptions(options);
  return function drainkitLiveness(ctx) {
    const target = drainer ?? (ctx.state.drain as RequestDrain | undefined)?.drainer;
    if (!target) throw notAttachedError('liveness()');
    send(ctx, livenessReply(target));
  };
}
