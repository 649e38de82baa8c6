import { notAttachedError, readinessReply, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { RequestHandler } from 'express';
import { send } from './send.js';

/**
 * A handler for a health route: 200 while serving, 503 with `Retry-After` from
 * the moment shutdown starts. `app.get('/ready', readiness())`, or
 * `readiness(drainer)` without the drain middleware.
 */
export function readiness(options?: ReadinessOptions): RequestHandler;
export function readiness(drainer: Drainer, options?: Omit<ReadinessOptions, 'drainer'>): RequestHandler;
export function readiness(options?: ReadinessOptions | Drainer, more?: Omit<ReadinessOptions, 'drainer'>): RequestHandler {
  const { drainer, retryAfterSeconds } = resolveReadinessOptions(options, more);
  return function drainkitReadiness(req, res, next) {
    const target = drainer ?? (req.drain as RequestDrain | undefined)?.drainer;
    if (!target) {
      next(notAttachedError('readiness()'));
      return;
    }
    // Already answered by an earlier middleware: its response stands.
    if (res.headersSent) return;
    send(res, readinessReply(target, retryAfterSeconds));
  };
}
