import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { register as globalRegistry } from 'prom-client';
import type { Registry } from 'prom-client';

export interface DrainMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prepended to every metric name. Default `'drainkit_'`. */
  prefix?: string;
  /**
   * Value of the `server` label, to tell several drainers apart on one registry.
   * A name you choose (`'public'`, `'admin'`), never something per connection. Default `'default'`.
   */
  server?: string;
  /** Buckets (seconds) of the drain-duration histograms. Default: 5 ms to 60 s. */
  buckets?: number[];
}

export interface ResolvedMetricsOptions {
  registry: Registry;
  prefix: string;
  server: string;
  /** Undefined when not given: the defaults, or those of metrics already registered. */
  buckets: number[] | undefined;
}

/** Drains run from a few ms (an idle connection) up to the drain timeout (tens of seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const KNOWN_KEYS = ['registry', 'prefix', 'server', 'buckets'];
// Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]* (https://prometheus.io/docs/concepts/data_model/).
// A prefix may be empty, or end anywhere a name may continue.
const PREFIX_PATTERN = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'function' ? 'a function' : typeof value === 'object' ? 'an object' : typeof value;
}

export function invalidOption(name: string, value: unknown, expected: string): DrainError {
  return new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "${name}": expected ${expected}, got ${describe(value)}`);
}

function isRegistry(value: unknown): value is Registry {
  const candidate = value as Record<string, unknown> | null;
  // Duck-typed rather than instanceof: the application may load its own copy of prom-client.
  return (
    candidate !== null &&
    typeof candidate === 'object' &&
    ['registerMetric', 'getSingleMetric', 'removeSingleMetric', 'metrics'].every((method) => typeof candidate[method] === 'function')
  );
}

export function resolveMetricsOptions(options: unknown): ResolvedMetricsOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw invalidOption('collectDrainMetrics options', options, 'an object');
  }
  const opts = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!KNOWN_KEYS.includes(key)) throw invalidOption(key, opts[key], `no such option (known: ${KNOWN_KEYS.join(', ')})`);
  }

  const registry = opts.registry === undefined ? globalRegistry : opts.registry;
  if (!isRegistry(registry)) throw invalidOption('registry', registry, 'a prom-client Registry');

  const prefix = opts.prefix === undefined ? 'drainkit_' : opts.prefix;
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw invalidOption('prefix', prefix, 'a string of letters, digits, "_" and ":" not starting with a digit');
  }

  const server = opts.server === undefined ? 'default' : opts.server;
  if (typeof server !== 'string' || server.length === 0) throw invalidOption('server', server, 'a non-empty string');

  const buckets = opts.buckets;
  if (
    buckets !== undefined &&
    (!Array.isArray(buckets) ||
      buckets.length === 0 ||
      !buckets.every((bound, i) => typeof bound === 'number' && Number.isFinite(bound) && bound > 0 && (i === 0 || bound > (buckets[i - 1] as number))))
  ) {
    throw invalidOption('buckets', buckets, 'a non-empty array of increasing positive finite numbers (seconds)');
  }

  return { registry, prefix, server, buckets: buckets === undefined ? undefined : [...(buckets as number[])] };
}
