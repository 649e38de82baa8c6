import http from 'node:http';
import net from 'node:net';
import { createDrainer } from '@drainkit/core';
import type { CleanupErrorEvent, Drainer, ShutdownPhase } from '@drainkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeServer, get, listen } from '../helpers/net.js';

/** Whether a new TCP connection to the port is accepted right now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('drainer.beforeShutdown()', () => {
  let server: http.Server | undefined;
  let drainer: Drainer | undefined;
  const clients: RawClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    drainer?.dispose();
    if (server) await closeServer(server);
    server = undefined;
    drainer = undefined;
  });

  async function start(options = {}): Promise<{ port: number; drainer: Drainer; phases: Array<[ShutdownPhase, number]> }> {
    server = http.createServer((_req, res) => res.end('ok'));
    drainer = createDrainer(server, options);
    const phases: Array<[ShutdownPhase, number]> = [];
    drainer.on('shutdown:phase', ({ phase, at }) => phases.push([phase, at]));
    return { port: await listen(server), drainer, phases };
  }

  it('runs after readiness fails and before the listener closes, which waits for it', async () => {
    const { port, drainer: d, phases } = await start();
    const seen: Array<{ ready: boolean; accepting: boolean }> = [];
    let finish!: () => void;
    d.beforeShutdown(async () => {
      seen.push({ ready: d.isReady(), accepting: await accepts(port) });
      await new Promise<void>((resolve) => (finish = resolve));
    }, { name: 'deregister' });
    const idle = await RawClient.connect(port);
    clients.push(idle);
    idle.write(get('/'));
    await idle.waitFor((data) => data.includes('ok'));
    const shutdown = d.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([{ ready: false, accepting: true }]);
    // The hook has not finished: the listener is still open and the idle connection untouched.
    expect(await accepts(port)).toBe(true);
    expect(idle.ended).toBe(false);
    finish();
    const report = await shutdown;
    expect(report.forced).toBe(0);
    expect(await accepts(port)).toBe(false);
    expect(phases.map(([phase]) => phase).slice(0, 3)).toEqual(['readiness-failed', 'before-shutdown-done', 'listener-closed']);
  });

  it('runs concurrently with shutdownDelayMs: the listener closes when both are done', async () => {
    const { drainer: d, phases } = await start({ shutdownDelayMs: 150 });
    d.beforeShutdown(() => new Promise((resolve) => setTimeout(resolve, 300)));
    const startedAt = Date.now();
    await d.shutdown();
    const at = (name: ShutdownPhase) => phases.find(([phase]) => phase === name)![1] - startedAt;
    expect(at('delay-elapsed')).toBeGreaterThanOrEqual(140);
    expect(at('delay-elapsed')).toBeLessThan(at('before-shutdown-done'));
    expect(at('before-shutdown-done')).toBeGreaterThanOrEqual(290);
    expect(at('listener-closed')).toBeGreaterThanOrEqual(at('before-shutdown-done'));
  });

  it('a failing hook and a slow one are reported, and do not hold the drain past the timeout', async () => {
    const logged: unknown[] = [];
    const { port, drainer: d } = await start({ logger: { info() {}, warn() {}, error: (obj: unknown) => logged.push(obj) } });
    const errors: CleanupErrorEvent[] = [];
    d.on('cleanup:error', (event) => errors.push(event));
    d.beforeShutdown(() => {
      throw new Error('consul unreachable');
    }, { name: 'consul' });
    d.beforeShutdown(() => new Promise(() => undefined), { name: 'stuck', timeoutMs: 80 });
    const startedAt = Date.now();
    const report = await d.shutdown();
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(report.forced).toBe(0);
    expect(await accepts(port)).toBe(false);
    expect(errors.map((e) => [e.name, e.stage, e.error.code, e.error.message])).toEqual([
      ['consul', 'before-shutdown', 'ERR_DRAIN_CLEANUP_FAILED', 'beforeShutdown hook "consul" failed: consul unreachable'],
      ['stuck', 'before-shutdown', 'ERR_DRAIN_CLEANUP_FAILED', 'beforeShutdown hook "stuck" failed: timed out after 80 ms'],
    ]);
    expect(logged).toHaveLength(2);
  });

  it('bad arguments are DrainErrors', async () => {
    const { drainer: d } = await start();
    expect(() => d.beforeShutdown('nope' as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
    expect(() => d.beforeShutdown(() => undefined, { timeoutMs: Number.NaN })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => d.beforeShutdown(() => undefined, { delay: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
  });
});
