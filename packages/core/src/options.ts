import { DrainError, DrainErrorCodes, describeValue, invalidOption } from './errors.js';
import type { ResolvedSettings } from './strategy.js';
import type { DrainerOptions } from './types.js';

/**
 * How long a drained keep-alive connection used within this time stays open for
 * its client's next request (served with `Connection: close`). A proxy or pooled
 * client may reuse an idle connection before it has processed our FIN: HAProxy
 * under CPU load did so up to 135 ms after it (soak/proxy). With 250 ms, HAProxy
 * and nginx still lost a few requests per rolling restart on a loaded machine;
 * with 1 000 ms none (docs/proxies.md). A shutdown waits at most this much longer
 * for recently used idle connections; connections idle longer close at once.
 */
export const DEFAULT_IDLE_GRACE_MS = 1_000;

/** The largest delay a Node timer honours (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function checkObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid ${name}: expected an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

export function checkKnownKeys(name: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Unknown option "${key}" in ${name}; known options: ${known.join(', ')}`);
    }
  }
}

/** A duration in ms: a finite number from 0 to the timer maximum. */
export function durationOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw invalidOption(name, value, `a finite number of milliseconds from 0 to ${MAX_TIMER_MS}`);
  }
  return value;
}

/** A whole number ≥ `min`; `Infinity` is allowed where "no limit" makes sense. */
export function countOption(name: string, value: unknown, fallback: number, min: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (!Number.isInteger(value) && !(allowInfinity && value === Infinity))) {
    throw invalidOption(name, value, `a whole number ≥ ${min}`);
  }
  return value;
}

export function stringOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidOption(name, value, 'a string');
  return value;
}

const DRAINER_OPTIONS = [
  'timeoutMs',
  'idleGraceMs',
  'lingerMs',
  'goawayPingTimeoutMs',
  'logger',
  'maxConnectionAgeMs',
  'maxConnectionAgeJitter',
  'maxRequestsPerConnection',
  'shutdownDelayMs',
] as const;

export function resolveDrainerOptions(input: DrainerOptions | undefined): ResolvedSettings {
  const options = checkObject('createDrainer options', input);
  checkKnownKeys('createDrainer options', options, DRAINER_OPTIONS);
  const logger = options.logger;
  if (logger !== undefined) {
    const candidate = logger as Record<string, unknown>;
    if (logger === null || typeof logger !== 'object' || ['info', 'warn', 'error'].some((m) => typeof candidate[m] !== 'function')) {
      throw invalidOption('logger', logger, 'an object with info, warn and error methods (pino-style)');
    }
  }
  const jitter = options.maxConnectionAgeJitter;
  if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1))) {
    throw invalidOption('maxConnectionAgeJitter', jitter, 'a number from 0 to below 1');
  }
  return {
    timeoutMs: durationOption('timeoutMs', options.timeoutMs, 10_000),
    idleGraceMs: durationOption('idleGraceMs', options.idleGraceMs, DEFAULT_IDLE_GRACE_MS),
    lingerMs: durationOption('lingerMs', options.lingerMs, 1_000),
    goawayPingTimeoutMs: durationOption('goawayPingTimeoutMs', options.goawayPingTimeoutMs, 1_000),
    maxConnectionAgeMs: durationOption('maxConnectionAgeMs', options.maxConnectionAgeMs, 0),
    maxConnectionAgeJitter: (jitter as number | undefined) ?? 0.1,
    maxRequestsPerConnection: countOption('maxRequestsPerConnection', options.maxRequestsPerConnection, 0, 1),
    shutdownDelayMs: durationOption('shutdownDelayMs', options.shutdownDelayMs, 0),
    logger: logger as ResolvedSettings['logger'],
  };
}
