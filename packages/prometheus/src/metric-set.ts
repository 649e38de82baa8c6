import type { DrainReport, DrainResult, DrainStats } from '@drainkit/core';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** What the metrics read from a drainer: its counts, at scrape time. */
export interface StatsSource {
  stats(): DrainStats;
}

type Stat = (stats: DrainStats) => number;

// Read at scrape time from stats(): nothing is updated per request or per connection.
const GAUGES: ReadonlyArray<[name: string, help: string, read: Stat]> = [
  ['connections_open', 'Connections open now.', (s) => s.open],
  ['connections_idle', 'Open connections with no request in flight.', (s) => s.idle],
  ['connections_active', 'Open connections with a request in flight, not draining.', (s) => s.active],
  ['connections_draining', 'Connections being drained now.', (s) => s.draining],
  ['sockets_lingering', 'Sockets of closed connections waiting (at most lingerMs) for their client to close too.', (s) => s.lingering],
  ['requests_in_flight', 'Requests (HTTP/1.1) or streams (HTTP/2) dispatched to the application and not finished.', (s) => s.inFlight],
];

const STAT_COUNTERS: ReadonlyArray<[name: string, help: string, read: Stat]> = [
  ['connections_accepted_total', 'Connections accepted since the drainer was attached.', (s) => s.accepted],
  ['connections_closed_total', 'Connections closed since the drainer was attached, for any reason.', (s) => s.closed],
  ['connections_drained_total', 'Connections a drain closed gracefully.', (s) => s.drained],
  ['connections_forced_total', 'Connections a drain had to destroy at its deadline.', (s) => s.forcedClosed],
  [
    'requests_unanswered_total',
    'Requests that reached the server during a drain and were never answered: held behind a drain, read after the FIN, refused after the final GOAWAY. The client sees a close (or REFUSED_STREAM), no response.',
    (s) => s.unanswered,
  ],
];

const REQUEST_OUTCOMES = ['completed', 'dropped', 'aborted'] as const;

type Metric = Gauge<string> | Counter<string> | Histogram<string>;

/**
 * The metrics of one (registry, prefix) pair, shared by every drainer that
 * reports there; each drainer is one value of the `server` label.
 */
export class DrainMetricSet {
  readonly registry: Registry;
  readonly prefix: string;
  readonly buckets: readonly number[];
  private readonly sources = new Map<string, StatsSource>();
  /** Protocols seen per server, to remove exactly their histogram series when a server stops. */
  private readonly protocolsSeen = new Map<string, Set<string>>();
  /** By the name it is registered under (prom-client renames counters in place for OpenMetrics output). */
  private readonly metrics = new Map<string, Metric>();
  private readonly connectionDrainSeconds: Histogram<'server' | 'protocol' | 'outcome'>;
  private readonly drainSeconds: Histogram<'server' | 'kind'>;
  private readonly drainedRequests: Counter<'server' | 'outcome'>;
  /** One stats() per drainer per scrape, so the gauges of one scrape agree with each other (open = idle + active + draining). */
  private snapshot: Map<string, DrainStats> | undefined = undefined;

  constructor(registry: Registry, prefix: string, buckets: readonly number[]) {
    this.registry = registry;
    this.prefix = prefix;
    this.buckets = buckets;
    for (const [name, help, read] of GAUGES) {
      const gauge: Gauge<'server'> = new Gauge({
        name: prefix + name,
        help,
        labelNames: ['server'],
        registers: [],
        collect: () => {
          gauge.reset();
          for (const [server, stats] of this.scrape()) gauge.set({ server }, read(stats));
        },
      });
      this.metrics.set(prefix + name, gauge);
    }
    for (const [name, help, read] of STAT_COUNTERS) {
      const counter: Counter<'server'> = new Counter({
        name: prefix + name,
        help,
        labelNames: ['server'],
        registers: [],
        // The drainer keeps the running totals; the counter only mirrors them.
        collect: () => {
          counter.reset();
          for (const [server, stats] of this.scrape()) counter.inc({ server }, read(stats));
        },
      });
      this.metrics.set(prefix + name, counter);
    }
    this.drainedRequests = new Counter({
      name: `${prefix}drained_requests_total`,
      help: 'Requests of drained connections by outcome: completed, dropped (never dispatched, the client may retry), aborted (cut off by a forced close).',
      labelNames: ['server', 'outcome'],
      registers: [],
    });
    this.connectionDrainSeconds = new Histogram({
      name: `${prefix}connection_drain_duration_seconds`,
      help: 'Time from the start of a connection drain to its close.',
      labelNames: ['server', 'protocol', 'outcome'],
      buckets: [...buckets],
      registers: [],
    });
    this.drainSeconds = new Histogram({
      name: `${prefix}drain_duration_seconds`,
      help: 'Duration of drain operations (one connection, a filtered batch, or the shutdown).',
      labelNames: ['server', 'kind'],
      buckets: [...buckets],
      registers: [],
    });
    this.metrics.set(`${prefix}drained_requests_total`, this.drainedRequests);
    this.metrics.set(`${prefix}connection_drain_duration_seconds`, this.connectionDrainSeconds);
    this.metrics.set(`${prefix}drain_duration_seconds`, this.drainSeconds);
  }

  get names(): string[] {
    return [...this.metrics.keys()];
  }

  get size(): number {
    return this.sources.size;
  }

  hasServer(server: string): boolean {
    return this.sources.has(server);
  }

  hasSource(source: StatsSource): boolean {
    for (const existing of this.sources.values()) if (existing === source) return true;
    return false;
  }

  /** The name of a metric already in the registry that is not ours, if any. */
  conflict(): string | undefined {
    return this.names.find((name) => this.registry.getSingleMetric(name) !== undefined);
  }

  /** False once someone removed our metrics from the registry (`registry.clear()`). */
  isRegistered(): boolean {
    for (const [name, metric] of this.metrics) if (this.registry.getSingleMetric(name) !== metric) return false;
    return true;
  }

  register(): void {
    for (const metric of this.metrics.values()) this.registry.registerMetric(metric);
  }

  unregister(): void {
    for (const [name, metric] of this.metrics) {
      if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name);
    }
  }

  add(server: string, source: StatsSource): void {
    this.sources.set(server, source);
    // Present as 0 from the first scrape, so rate() and alerts have a series to work on.
    for (const outcome of REQUEST_OUTCOMES) this.drainedRequests.inc({ server, outcome }, 0);
  }

  remove(server: string): void {
    this.sources.delete(server);
    for (const outcome of REQUEST_OUTCOMES) this.drainedRequests.remove({ server, outcome });
    for (const protocol of this.protocolsSeen.get(server) ?? []) {
      for (const outcome of ['graceful', 'forced']) this.connectionDrainSeconds.remove({ server, protocol, outcome });
    }
    for (const kind of ['connection', 'batch', 'shutdown']) this.drainSeconds.remove({ server, kind });
    this.protocolsSeen.delete(server);
  }

  observeConnection(server: string, result: DrainResult): void {
    let protocols = this.protocolsSeen.get(server);
    if (!protocols) this.protocolsSeen.set(server, (protocols = new Set()));
    protocols.add(result.protocol);
    this.connectionDrainSeconds.observe({ server, protocol: result.protocol, outcome: result.forced ? 'forced' : 'graceful' }, result.durationMs / 1000);
    if (result.completedRequests > 0) this.drainedRequests.inc({ server, outcome: 'completed' }, result.completedRequests);
    if (result.droppedRequests > 0) this.drainedRequests.inc({ server, outcome: 'dropped' }, result.droppedRequests);
    if (result.abortedRequests > 0) this.drainedRequests.inc({ server, outcome: 'aborted' }, result.abortedRequests);
  }

  observeDrain(server: string, report: DrainReport): void {
    this.drainSeconds.observe({ server, kind: report.kind }, report.durationMs / 1000);
  }

  private scrape(): Map<string, DrainStats> {
    if (this.snapshot) return this.snapshot;
    const snapshot = new Map<string, DrainStats>();
    for (const [server, source] of this.sources) snapshot.set(server, source.stats());
    this.snapshot = snapshot;
    // registry.metrics() calls every metric's collect() in one synchronous pass; the snapshot lives for that pass only.
    queueMicrotask(() => {
      this.snapshot = undefined;
    });
    return snapshot;
  }
}
