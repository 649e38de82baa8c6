import { readinessReply, resolveReadinessOptions } from '@drainkit/core';
import type { Drainer, HttpReply } from '@drainkit/core';
import type { FastifyInstance } from 'fastify';
import { sendReply } from './send.js';

/**
 * The readiness and liveness routes of the plugin. Readiness fails from the
 * moment shutdown starts (Retry-After tells the prober when to look again);
 * liveness stays 200 throughout, so a draining pod is not killed for it.
 */
export function addProbes(app: FastifyInstance, drainer: Drainer, paths: { readinessPath?: string | undefined; livenessPath?: string | undefined; retryAfterSeconds?: number | undefined }): void {
  if (paths.readinessPath !== undefined) {
    // Core's validation of the option, so a bad value fails as in the other adapters.
    const { retryAfterSeconds } = resolveReadinessOptions({ retryAfterSeconds: paths.retryAfterSeconds });
    app.get(paths.readinessPath, (_request, reply) => sendReply(reply, readinessReply(drainer, retryAfterSeconds)));
  } else if (paths.retryAfterSeconds !== undefined) {
    resolveReadinessOptions({ retryAfterSeconds: paths.retryAfterSeconds });
  }
  if (paths.livenessPath !== undefined) {
    app.get(paths.livenessPath, (_request, reply) => sendReply(reply, livenessReply(drainer)));
  }
}

/** 200 while the process can answer at all: a shutdown in progress is not a reason to restart it. */
export function livenessReply(drainer: Drainer): HttpReply {
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ alive: true, state: drainer.state }),
  };
}
