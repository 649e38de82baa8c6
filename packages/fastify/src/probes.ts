import { livenessReply, readinessWithChecks, resolveReadinessOptions } from '@drainkit/core/adapter';
import type { Drainer } from '@drainkit/core';
import type { FastifyInstance } from 'fastify';
import { sendReply } from './send.js';

/**
 * The readiness and liveness routes of the plugin. Readiness runs the
 * drainer's health checks and fails from the moment shutdown starts
 * (Retry-After tells the prober when to look again); liveness stays 200
 * throughout, so a draining pod is not killed for it.
 */
export function addProbes(
  app: FastifyInstance,
  drainer: Drainer,
  paths: { readinessPath?: string | undefined; livenessPath?: string | undefined; retryAfterSeconds?: number | undefined },
): void {
  // Core's validation of the option, so a bad value fails as in the other adapters.
  const { retryAfterSeconds } = resolveReadinessOptions({ retryAfterSeconds: paths.retryAfterSeconds });
  if (paths.readinessPath !== undefined) {
    app.get(paths.readinessPath, async (_request, reply) => sendReply(reply, await readinessWithChecks(drainer, retryAfterSeconds)));
  }
  if (paths.livenessPath !== undefined) {
    app.get(paths.livenessPath, (_request, reply) => sendReply(reply, livenessReply(drainer)));
  }
}
