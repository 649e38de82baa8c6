import type { Drainer } from './drainer.js';
import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { checkKnownKeys, checkObject, countOption } from './options.js';
import { isDrainerLike } from './request-drain.js';

/** A reply an adapter writes as is: status, headers and an already serialized body. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ReadinessOptions {
  /** The drainer to report on; by default the one the drain middleware gave the request. */
  drainer?: Drainer;
  /** `Retry-After` of the 503 answer, in seconds. Default 5. */
  retryAfterSeconds?: number;
}

export interface ResolvedReadinessOptions {
  drainer: Drainer | undefined;
  retryAfterSeconds: number;
}

export function resolveReadinessOptions(input: unknown): ResolvedReadinessOptions {
  const options = checkObject('readiness options', input);
  checkKnownKeys('readiness options', options, ['drainer', 'retryAfterSeconds']);
  return {
    drainer: drainerOption('readiness', options.drainer),
    retryAfterSeconds: countOption('retryAfterSeconds', options.retryAfterSeconds, 5, 0),
  };
}

/**
 * 200 while serving; 503 with `Retry-After` from the moment shutdown starts, so
 * a load balancer or a Kubernetes readiness probe stops sending traffic before
 * the listener closes (RFC 9110 §15.6.4 and §10.2.3 for 503 + Retry-After).
 */
export function readinessReply(drainer: Drainer, retryAfterSeconds: number): HttpReply {
  const ready = drainer.isReady();
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    // A cached "ready" would defeat the probe.
    'cache-control': 'no-store',
  };
  if (!ready) headers['retry-after'] = String(retryAfterSeconds);
  return { status: ready ? 200 : 503, headers, body: JSON.stringify({ ready, state: drainer.state }) };
}

/** Validates an optional `drainer` option of an adapter helper. */
export function drainerOption(helper: string, value: unknown): Drainer | undefined {
  if (value === undefined) return undefined;
  if (!isDrainerLike(value)) {
    throw new DrainError(
      DrainErrorCodes.INVALID_OPTION,
      `Invalid option "drainer" of ${helper}(): expected a Drainer from createDrainer(), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** The error for a helper that found no drainer: neither an option nor the drain middleware in front of it. */
export function notAttachedError(helper: string): DrainError {
  return new DrainError(
    DrainErrorCodes.NOT_ATTACHED,
    `${helper}: no drainer for this request; pass { drainer } or install the drain middleware (or attach()) in front of it`,
  );
}
