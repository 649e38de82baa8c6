import { notAttachedError, readinessReply, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
import type { RequestHandler } from 'express';
import { send } from './send.js';

/**
 * A handler for a health route: 200 while serving, 503 with `Retry-After` from
 * the moment shutdown starts. `app.get('/ready', readiness())`.
 */
export function readiness(options?: ReadinessOptions): RequestHandler {
  const { drainer, retryAfterSeconds } = resolveReadinessOptions(options);
  return function drainkitReadiness(req, res, next) {
    const target = drainer ?? (req.drain as RequestDrain | undefined)?.drainer;
    if (!target) {
      next(notAttachedError('readiness()'));
      return;
    }
    send(res, readinessReply(target, retryAfterSeconds));
  };
}
