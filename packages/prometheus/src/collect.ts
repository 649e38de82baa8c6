import { DrainError, DrainErrorCodes } from '@drainkit/core';
import { describeValue } from '@drainkit/core/adapter';
import type { Drainer, DrainReport, DrainResult } from '@drainkit/core';
import type { Registry } from 'prom-client';
import { DEFAULT_BUCKETS, invalidOption, isRegistry, resolveMetricsOptions } from './options.js';
import type { DrainMetricsOptions } from './options.js';
import { DrainMetricSet } from './metric-set.js';

export interface DrainMetricsHandle {
  readonly registry: Registry;
  readonly prefix: string;
  /** The `server` label value of this drainer's series. */
  readonly server: string;
  /** Names of the metrics registered for this (registry, prefix). */
  readonly names: readonly string[];
  /**
   * Stop reporting this drainer: its listeners are removed and its series
   * disappear; the last drainer to stop on a (registry, prefix) unregisters
   * the metrics. Calling it again does nothing.
   */
  stop(): void;
}

/** One metric set per (registry, prefix): prom-client allows one metric per name in a registry. */
const metricSets = new WeakMap<object, Map<string, DrainMetricSet>>();

function isDrainerLike(value: unknown): value is Drainer {
  const candidate = value as Record<string, unknown> | null;
  return candidate !== null && typeof candidate === 'object' && ['stats', 'on', 'off'].every((method) => typeof candidate[method] === 'function');
}

/**
 * Exposes a drainer's state as Prometheus metrics on a prom-client registry:
 * gauges and totals read from `drainer.stats()` at scrape time, and histograms
 * of drain durations observed as drains finish. Several drainers may share a
 * registry, each under its own `server` label value.
 */
export function collectDrainMetrics(drainer: Drainer, options?: DrainMetricsOptions | Registry): DrainMetricsHandle {
  if (!isDrainerLike(drainer)) {
    const swapped = isRegistry(drainer) && isDrainerLike(options);
    throw new DrainError(
      DrainErrorCodes.INVALID_ARGUMENT,
      swapped
        ? 'collectDrainMetrics(drainer, registry): the drainer comes first; the arguments are swapped'
        : `collectDrainMetrics(drainer, options): drainer must be what createDrainer() returned, got ${describeValue(drainer)}`,
    );
  }
  const { registry, prefix, server, buckets } = resolveMetricsOptions(options);

  let byPrefix = metricSets.get(registry);
  if (!byPrefix) metricSets.set(registry, (byPrefix = new Map()));
  let set = byPrefix.get(prefix);
  if (set && !set.isRegistered()) {
    // Someone cleared the registry: start afresh (the old handles' stop() stays harmless).
    byPrefix.delete(prefix);
    set = undefined;
  }
  if (!set) {
    set = new DrainMetricSet(registry, prefix, buckets ?? DEFAULT_BUCKETS);
    const taken = set.conflict();
    if (taken !== undefined) {
      throw invalidOption('prefix', prefix, `a prefix whose names are free in this registry (it already has a metric named "${taken}")`);
    }
    set.register();
    byPrefix.set(prefix, set);
  } else {
    if (buckets !== undefined && !sameNumbers(buckets, set.buckets)) {
      throw invalidOption('buckets', buckets, `the buckets already used with prefix "${prefix}" on this registry (${set.buckets.join(', ')})`);
    }
    if (set.hasSource(drainer)) {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `collectDrainMetrics(): this drainer already reports to this registry with prefix "${prefix}"`);
    }
    if (set.hasServer(server)) {
      throw invalidOption('server', server, `a server name not yet used with prefix "${prefix}" on this registry (one per drainer)`);
    }
  }

  const metricSet = set;
  const onDrained = (result: DrainResult): void => metricSet.observeConnection(server, result);
  const onDrainEnd = (report: DrainReport): void => metricSet.observeDrain(server, report);
  metricSet.add(server, drainer);
  drainer.on('connection:drained', onDrained);
  drainer.on('drain:end', onDrainEnd);

  let stopped = false;
  return {
    registry,
    prefix,
    server,
    names: metricSet.names,
    stop(): void {
      if (stopped) return;
      stopped = true;
      drainer.off('connection:drained', onDrained);
      drainer.off('drain:end', onDrainEnd);
      metricSet.remove(server);
      if (metricSet.size === 0) {
        metricSet.unregister();
        if (byPrefix.get(prefix) === metricSet) byPrefix.delete(prefix);
      }
    },
  };
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
