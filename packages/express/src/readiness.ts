import { livenessReply, notAttachedError, readinessWithChecks, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { ReadinessOptions, RequestDrain } from '@drainkit/core/adapter';
import type { RequestHandler } from 'express';
import { send } from './send.js';

/**
 * A handler for a health route: 200 while serving and every critical
 * `drainer.healthCheck()` is up, 503 with `Retry-After` from the moment
 * shutdown starts (or while a critical check is down). `app.get('/ready', readiness())`,
 * or `readiness(drainer)` without the drain middleware.
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
    readinessWithChecks(target, retryAfterSeconds).then((reply) => {
      // Already answered by an earlier middleware (or while the checks ran): its response stands.
      if (!res.headersSent) send(res, reply);
    }, next);
  };
}

/**
 * A liveness route: 200 for as long as the process answers, during a graceful
 * shutdown too, so Kubernetes does not kill a draining pod. `app.get('/live', liveness())`.
 */
export function liveness(options?: { drainer?: Drainer }): RequestHandler {
  const { drainer } = resolveReadinessOptions(options);
  return function drainkitLiveness(req, res, next) {
    const target = drainer ?? (req.drain as RequestDrain | undefined)?.drainer;
    if (!target) {
      next(notAttachedError('liveness()'));
      return;
    }
    send(res, livenessReply(target));
  };
}
