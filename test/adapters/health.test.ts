import http from 'node:http';
import type { Drainer } from '@drainkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../helpers/net.js';
import { startFastifyApp } from '../fastify/fastify-kind.js';
import { frameworks } from './frameworks.js';

/** One app with readiness at /ready and liveness at /live, whatever the framework. */
interface ProbedApp {
  drainer: Drainer;
  port: number;
  close(): Promise<void>;
}

const variants: Array<{ name: string; start(): Promise<ProbedApp> }> = [
  ...frameworks.map((framework) => ({ name: framework.name, start: () => framework.start() })),
  ...([4, 5] as const).map((major) => ({
    name: `fastify ${major}`,
    async start(): Promise<ProbedApp> {
      const { app, port } = await startFastifyApp(major, 'http', { drainkit: { readinessPath: '/ready', livenessPath: '/live' } });
      return { drainer: app.drainer, port, close: () => app.close() };
    },
  })),
];

interface Probe {
  status: number;
  retryAfter: string | undefined;
  body: { ready?: boolean; alive?: boolean; state: string; checks?: Record<string, { status: string; critical: boolean; error?: string }> };
}

describe.each(variants)('health checks and liveness on $name', (variant) => {
  let target: ProbedApp | undefined;
  const agents: http.Agent[] = [];

  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await target?.close();
    target = undefined;
  });

  async function probe(path: string): Promise<Probe> {
    const agent = new http.Agent({ keepAlive: false });
    agents.push(agent);
    const response = await request(agent, target!.port, path);
    return { status: response.status, retryAfter: response.headers['retry-after'] as string | undefined, body: JSON.parse(response.body) as Probe['body'] };
  }

  it('readiness lists each check; a failing critical check answers 503 with its message, a non-critical one does not', async () => {
    target = await variant.start();
    let dbUp = true;
    target.drainer.healthCheck('db', async () => {
      if (!dbUp) throw new Error('connection refused');
    }, { cacheMs: 0 });
    target.drainer.healthCheck('cache', () => false, { critical: false, cacheMs: 0 });
    const up = await probe('/ready');
    expect(up).toMatchObject({ status: 200, retryAfter: undefined, body: { ready: true, state: 'serving' } });
    expect(up.body.checks).toMatchObject({ db: { status: 'up', critical: true }, cache: { status: 'down', critical: false, error: 'the check returned false' } });

    dbUp = false;
    const down = await probe('/ready');
    expect(down).toMatchObject({ status: 503, retryAfter: '5', body: { ready: false, state: 'serving' } });
    expect(down.body.checks?.db).toMatchObject({ status: 'down', error: 'connection refused' });
    // Liveness does not run the checks: a broken database is not a reason to restart the process.
    expect(await probe('/live')).toMatchObject({ status: 200, body: { alive: true, state: 'serving' } });
  });

  it('liveness stays 200 during a graceful shutdown while readiness is 503', async () => {
    target = await variant.start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    await request(agent, target.port, '/live');
    const shutdown = target.drainer.shutdown({ shutdownDelayMs: 300 });
    const ready = await request(agent, target.port, '/ready');
    const live = await request(agent, target.port, '/live');
    expect(ready.status).toBe(503);
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toEqual({ alive: true, state: 'shutting-down' });
    await shutdown;
  });
});

describe('health check results are cached and shared', () => {
  let target: ProbedApp | undefined;
  afterEach(async () => {
    await target?.close();
    target = undefined;
  });

  it('a probe storm runs the check once per cacheMs; a slow check times out as a failure and its signal aborts', async () => {
    target = await frameworks[0]!.start();
    let runs = 0;
    target.drainer.healthCheck('db', async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 30));
    }, { cacheMs: 1_500 });
    let aborted: unknown;
    target.drainer.healthCheck('queue', (signal) => {
      signal.addEventListener('abort', () => (aborted = signal.reason));
      return new Promise(() => undefined);
    }, { timeoutMs: 50, critical: false });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    try {
      const storm = await Promise.all(Array.from({ length: 40 }, () => request(agent, target!.port, '/ready')));
      expect(new Set(storm.map((r) => r.status))).toEqual(new Set([200]));
      expect(runs).toBe(1);
      const body = JSON.parse(storm[0]!.body) as Probe['body'];
      expect(body.checks?.queue).toMatchObject({ status: 'down', error: 'timed out after 50 ms' });
      expect((aborted as Error).message).toBe('timed out after 50 ms');
      await request(agent, target.port, '/ready');
      expect(runs).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 1_550));
      await request(agent, target.port, '/ready');
      expect(runs).toBe(2);
    } finally {
      agent.destroy();
    }
  });

  it('bad arguments are DrainErrors with a stable code', async () => {
    target = await frameworks[0]!.start();
    const { drainer } = target;
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => drainer.healthCheck('', () => true))).toBe('ERR_DRAIN_INVALID_ARGUMENT');
    expect(code(() => drainer.healthCheck('db', 'ping' as never))).toBe('ERR_DRAIN_INVALID_ARGUMENT');
    expect(code(() => drainer.healthCheck('db', () => true, { timeoutMs: -1 }))).toBe('ERR_DRAIN_INVALID_OPTION');
    expect(code(() => drainer.healthCheck('db', () => true, { critical: 'yes' as never }))).toBe('ERR_DRAIN_INVALID_OPTION');
    expect(code(() => drainer.healthCheck('db', () => true, { interval: 5 } as never))).toBe('ERR_DRAIN_INVALID_OPTION');
    drainer.healthCheck('db', () => true);
    expect(code(() => drainer.healthCheck('db', () => true))).toBe('ERR_DRAIN_INVALID_ARGUMENT');
  });
});
