import { Counter, register as globalRegistry, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DrainError } from '@drainkit/core';
import type { Drainer } from '@drainkit/core';
import { collectDrainMetrics } from '@drainkit/prometheus';
import type { DrainMetricsOptions } from '@drainkit/prometheus';
import { get } from '../helpers/net.js';
import { observedServers } from './fixture.js';

const { cleanups, setup, client } = observedServers();

function collect(drainer: Drainer, options: DrainMetricsOptions) {
  const handle = collectDrainMetrics(drainer, options);
  cleanups.push(() => handle.stop());
  return handle;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format that registry.metrics() returns. */
async function scrape(registry: Registry): Promise<Sample[]> {
  const text = await registry.metrics();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and (at least) these labels; undefined when absent. */
// biome-ignore lint/suspicious/noShadowRestrictedNames: a module-scope helper; Object.prototype.valueOf is not reached through it
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

describe('collectDrainMetrics', () => {
  it('gauges read the drainer at scrape time; totals and histograms follow real traffic and drains', async () => {
    const { drainer, port, started, release } = await setup({ timeoutMs: 2_000 });
    const registry = new Registry();
    collect(drainer, { registry, server: 'api' });
    const api = { server: 'api' };

    const busy = await client(port);
    const idle = await client(port);
    const pipelined = await client(port);
    busy.write(get('/slow'));
    idle.write(get('/fast'));
    await idle.waitFor((data) => data.includes('fast'));
    await started(1);

    let samples = await scrape(registry);
    expect(valueOf(samples, 'drainkit_connections_open', api)).toBe(3);
    expect(valueOf(samples, 'drainkit_connections_active', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_connections_idle', api)).toBe(2);
    expect(valueOf(samples, 'drainkit_connections_draining', api)).toBe(0);
    expect(valueOf(samples, 'drainkit_requests_in_flight', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_connections_accepted_total', api)).toBe(3);
    expect(valueOf(samples, 'drainkit_drained_requests_total', { server: 'api', outcome: 'completed' })).toBe(0);

    // Drain the busy connection mid-request: it is draining until its request finishes.
    const busyId = drainer.connections((c) => c.inFlight === 1)[0]!.id;
    const drained = drainer.drainConnection(busyId);
    samples = await scrape(registry);
    expect(valueOf(samples, 'drainkit_connections_draining', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_connections_active', api)).toBe(0);
    expect(valueOf(samples, 'drainkit_requests_in_flight', api)).toBe(1);
    release();
    expect(await drained).toMatchObject({ forced: false, completedRequests: 1 });

    samples = await scrape(registry);
    expect(valueOf(samples, 'drainkit_connections_open', api)).toBe(2);
    expect(valueOf(samples, 'drainkit_connections_draining', api)).toBe(0);
    // Its socket may still be waiting for the client's FIN.
    expect([0, 1]).toContain(valueOf(samples, 'drainkit_sockets_lingering', api));
    expect(valueOf(samples, 'drainkit_connections_drained_total', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_connections_closed_total', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_drained_requests_total', { server: 'api', outcome: 'completed' })).toBe(1);
    const graceful = { server: 'api', protocol: 'http/1.1', outcome: 'graceful' };
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_count', graceful)).toBe(1);
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_bucket', { ...graceful, le: '+Inf' })).toBe(1);
    expect(valueOf(samples, 'drainkit_drain_duration_seconds_count', { server: 'api', kind: 'connection' })).toBe(1);

    // Shutdown: a pipelined pair (second request dropped) and a stuck request (forced).
    pipelined.write(get('/slow') + get('/fast'));
    await started(2);
    const stuck = await client(port);
    stuck.write(get('/never'));
    await started(3);
    const listenerClosed = new Promise<void>((resolve) => drainer.on('shutdown:phase', (e) => e.phase === 'listener-closed' && resolve()));
    const shutdown = drainer.shutdown({ timeoutMs: 150 });
    await listenerClosed; // the drain starts then (a response finishing before it is not a drained request)
    release();
    const report = await shutdown;
    expect(report).toMatchObject({ total: 3, forced: 1 });

    samples = await scrape(registry);
    expect(valueOf(samples, 'drainkit_connections_open', api)).toBe(0);
    expect(valueOf(samples, 'drainkit_requests_in_flight', api)).toBe(0);
    expect(valueOf(samples, 'drainkit_connections_accepted_total', api)).toBe(4);
    expect(valueOf(samples, 'drainkit_connections_closed_total', api)).toBe(4);
    expect(valueOf(samples, 'drainkit_connections_drained_total', api)).toBe(3);
    expect(valueOf(samples, 'drainkit_connections_forced_total', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_drained_requests_total', { server: 'api', outcome: 'completed' })).toBe(2);
    expect(valueOf(samples, 'drainkit_drained_requests_total', { server: 'api', outcome: 'dropped' })).toBe(1);
    // The dropped (pipelined, never dispatched) request is also an unanswered one.
    expect(valueOf(samples, 'drainkit_requests_unanswered_total', api)).toBe(1);
    expect(valueOf(samples, 'drainkit_drained_requests_total', { server: 'api', outcome: 'aborted' })).toBe(1);
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_count', graceful)).toBe(3);
    const forced = { server: 'api', protocol: 'http/1.1', outcome: 'forced' };
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_count', forced)).toBe(1);
    // The forced one lasted until the 150 ms deadline: above the 0.1 s bucket, well below 5 s.
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_bucket', { ...forced, le: '0.1' })).toBe(0);
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_bucket', { ...forced, le: '5' })).toBe(1);
    expect(valueOf(samples, 'drainkit_connection_drain_duration_seconds_sum', forced)).toBeGreaterThanOrEqual(0.15);
    expect(valueOf(samples, 'drainkit_drain_duration_seconds_count', { server: 'api', kind: 'shutdown' })).toBe(1);
  });

  it('keeps drainers apart on a shared registry by server label, and never labels by connection or address', async () => {
    const registry = new Registry();
    const publicSide = await setup();
    const adminSide = await setup();
    collect(publicSide.drainer, { registry, server: 'public' });
    collect(adminSide.drainer, { registry, server: 'admin' });
    for (const port of [publicSide.port, publicSide.port, adminSide.port]) {
      const c = await client(port);
      c.write(get('/fast'));
      await c.waitFor((data) => data.includes('fast'));
    }
    await publicSide.drainer.drain();

    const samples = await scrape(registry);
    expect(valueOf(samples, 'drainkit_connections_accepted_total', { server: 'public' })).toBe(2);
    expect(valueOf(samples, 'drainkit_connections_accepted_total', { server: 'admin' })).toBe(1);
    expect(valueOf(samples, 'drainkit_connections_open', { server: 'public' })).toBe(0);
    expect(valueOf(samples, 'drainkit_connections_open', { server: 'admin' })).toBe(1);
    expect(valueOf(samples, 'drainkit_connections_drained_total', { server: 'public' })).toBe(2);
    expect(valueOf(samples, 'drainkit_connections_drained_total', { server: 'admin' })).toBe(0);
    expect(valueOf(samples, 'drainkit_drain_duration_seconds_count', { server: 'public', kind: 'batch' })).toBe(1);
    expect(valueOf(samples, 'drainkit_drain_duration_seconds_count', { server: 'admin', kind: 'batch' })).toBeUndefined();

    const allowed: Record<string, Set<string>> = {
      server: new Set(['public', 'admin']),
      protocol: new Set(['http/1.1', 'h2', 'upgraded']),
      outcome: new Set(['graceful', 'forced', 'completed', 'dropped', 'aborted']),
      kind: new Set(['connection', 'batch', 'shutdown']),
    };
    const ids = [...publicSide.drainer.connections(), ...adminSide.drainer.connections()].map((c) => c.id);
    for (const sample of samples) {
      for (const [key, value] of Object.entries(sample.labels)) {
        if (key === 'le') continue;
        expect(allowed[key], `label ${key} on ${sample.name}`).toBeDefined();
        expect(allowed[key]!.has(value), `${key}="${value}" on ${sample.name}`).toBe(true);
        expect(ids).not.toContain(value);
        expect(value).not.toContain('127.0.0.1');
      }
    }
  });

  it('stop() removes one drainer’s series; the last stop unregisters the metrics', async () => {
    const registry = new Registry();
    const first = await setup();
    const second = await setup();
    const before = first.drainer.listenerCount('connection:drained');
    const a = collectDrainMetrics(first.drainer, { registry, server: 'a' });
    const b = collectDrainMetrics(second.drainer, { registry, server: 'b' });
    cleanups.push(() => a.stop(), () => b.stop());
    expect(a.names).toContain('drainkit_connections_open');

    const c = await client(first.port);
    c.write(get('/fast'));
    await c.waitFor((data) => data.includes('fast'));
    await first.drainer.drain();

    a.stop();
    a.stop(); // twice is harmless
    expect(first.drainer.listenerCount('connection:drained')).toBe(before);
    let samples = await scrape(registry);
    expect(samples.filter((s) => s.labels.server === 'a')).toEqual([]);
    expect(valueOf(samples, 'drainkit_connections_open', { server: 'b' })).toBe(0);

    b.stop();
    expect(registry.getMetricsAsArray()).toEqual([]);
    samples = await scrape(registry);
    expect(samples).toEqual([]);

    // The same server name is free again, and the metrics come back.
    const again = collect(first.drainer, { registry, server: 'a' });
    samples = await scrape(registry);
    expect(valueOf(samples, 'drainkit_connections_accepted_total', { server: 'a' })).toBe(1);
    expect(again.names.length).toBeGreaterThan(0);
  });

  it('uses the prefix for every name and defaults to prom-client’s global registry', async () => {
    const { drainer } = await setup();
    const handle = collect(drainer, { prefix: 'myapp_http_' });
    expect(handle.registry).toBe(globalRegistry);
    for (const name of handle.names) expect(name.startsWith('myapp_http_')).toBe(true);
    const samples = await scrape(globalRegistry);
    expect(valueOf(samples, 'myapp_http_connections_open', { server: 'default' })).toBe(0);
    handle.stop();
    expect(globalRegistry.getSingleMetric('myapp_http_connections_open')).toBeUndefined();
  });

  it('starts afresh after registry.clear()', async () => {
    const registry = new Registry();
    const { drainer } = await setup();
    const first = collect(drainer, { registry });
    registry.clear();
    const second = collect(drainer, { registry });
    expect(valueOf(await scrape(registry), 'drainkit_connections_open', { server: 'default' })).toBe(0);
    first.stop(); // the stale handle leaves the new metrics alone
    expect(valueOf(await scrape(registry), 'drainkit_connections_open', { server: 'default' })).toBe(0);
    second.stop();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  describe('bad input', () => {
    async function failure(run: () => unknown): Promise<DrainError> {
      try {
        await run();
      } catch (error) {
        expect(error).toBeInstanceOf(DrainError);
        return error as DrainError;
      }
      throw new Error('expected a DrainError');
    }

    it('rejects bad options with ERR_DRAIN_INVALID_OPTION naming the option', async () => {
      const { drainer } = await setup();
      const registry = new Registry();
      const cases: Array<[unknown, string]> = [
        [{ registry, prefix: '9lives_' }, 'prefix'],
        [{ registry, prefix: 'has-dash_' }, 'prefix'],
        [{ registry, prefix: 42 }, 'prefix'],
        [{ registry: {} }, 'registry'],
        [{ registry: null }, 'registry'],
        [{ registry, server: '' }, 'server'],
        [{ registry, server: 7 }, 'server'],
        [{ registry, buckets: [] }, 'buckets'],
        [{ registry, buckets: [1, 0.5] }, 'buckets'],
        [{ registry, buckets: [0.1, Number.NaN] }, 'buckets'],
        [{ registry, labels: { pod: 'x' } }, 'labels'],
        ['options', 'options'],
      ];
      for (const [options, name] of cases) {
        const error = await failure(() => collectDrainMetrics(drainer, options as DrainMetricsOptions));
        expect(error.code, JSON.stringify(options)).toBe('ERR_DRAIN_INVALID_OPTION');
        expect(error.message).toContain(name);
      }
      expect(registry.getMetricsAsArray()).toEqual([]);
    });

    it('rejects something that is not a drainer with ERR_DRAIN_INVALID_ARGUMENT', async () => {
      for (const value of [undefined, {}, 'drainer']) {
        const error = await failure(() => collectDrainMetrics(value as unknown as Drainer, { registry: new Registry() }));
        expect(error.code).toBe('ERR_DRAIN_INVALID_ARGUMENT');
      }
    });

    it('refuses a server name already used, the same drainer twice, and a name taken by another metric', async () => {
      const registry = new Registry();
      const first = await setup();
      const second = await setup();
      collect(first.drainer, { registry, server: 'api' });

      const taken = await failure(() => collectDrainMetrics(second.drainer, { registry, server: 'api' }));
      expect(taken.code).toBe('ERR_DRAIN_INVALID_OPTION');
      expect(taken.message).toContain('server');

      const twice = await failure(() => collectDrainMetrics(first.drainer, { registry, server: 'other' }));
      expect(twice.code).toBe('ERR_DRAIN_INVALID_ARGUMENT');

      const buckets = await failure(() => collectDrainMetrics(second.drainer, { registry, server: 'b', buckets: [1, 2] }));
      expect(buckets.code).toBe('ERR_DRAIN_INVALID_OPTION');

      const foreign = new Registry();
      new Counter({ name: 'drainkit_connections_accepted_total', help: 'someone else', registers: [foreign] });
      const clash = await failure(() => collectDrainMetrics(second.drainer, { registry: foreign }));
      expect(clash.code).toBe('ERR_DRAIN_INVALID_OPTION');
      expect(clash.message).toContain('prefix');
      expect(foreign.getMetricsAsArray()).toHaveLength(1);
    });
  });
});
