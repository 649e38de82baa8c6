import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDrainer, DrainError } from '@drainkit/core';
import type { ShutdownOutcome } from '@drainkit/core';
import { closeServer, listen, request } from '../helpers/net.js';
import { assertBuilt, Child } from './child.js';

// drainer.handleSignals() in a real child process receiving real signals.

const children: Child[] = [];
const agents: http.Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await Promise.all(children.splice(0).map((child) => child.stop()));
});
beforeAll(assertBuilt);

async function start(env: Record<string, string> = {}) {
  const child = new Child('signal-app.mjs', env);
  children.push(child);
  const { port } = (await child.event('listening')) as unknown as { port: number };
  const agent = new http.Agent({ keepAlive: true });
  agents.push(agent);
  return { child, port, agent };
}

function phases(child: Child): string[] {
  return child.messages.filter((m) => m.event === 'phase').map((m) => m.phase as string);
}

describe('handleSignals in a child process', () => {
  it('SIGTERM: the request in flight finishes, cleanup runs after the last connection closed, exit 0', async () => {
    const { child, port, agent } = await start();
    const response = request(agent, port, '/slow');
    await child.event('request', (m) => m.url === '/slow');
    child.process.kill('SIGTERM');
    await child.phase('listener-closed');
    // Draining, not yet drained: the request is still being served.
    expect(phases(child)).not.toContain('drained');
    child.send({ cmd: 'release' });
    const res = await response;
    expect(res).toMatchObject({ status: 200, body: 'slow done' });
    expect(res.headers.connection).toBe('close');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(phases(child)).toEqual(['readiness-failed', 'listener-closed', 'drained', 'cleanup-done', 'sockets-closed']);
    const drained = await child.phase('drained');
    const cleanup = await child.event('cleanup');
    expect(cleanup.open).toBe(0);
    expect(cleanup.at as number).toBeGreaterThanOrEqual(drained.at as number);
  });

  it('keeps accepting during shutdownDelayMs while readiness answers 503, then refuses', async () => {
    const { child, port } = await start({ SHUTDOWN_DELAY_MS: '600' });
    child.process.kill('SIGTERM');
    const failed = await child.phase('readiness-failed');
    // Fresh connections (no keep-alive): the listener itself is still accepting.
    const fresh = new http.Agent({ keepAlive: false });
    agents.push(fresh);
    const ready = await request(fresh, port, '/ready');
    const served = await request(fresh, port, '/fast');
    const servedAt = Date.now();
    expect(ready).toMatchObject({ status: 503, body: 'not ready' });
    expect(served).toMatchObject({ status: 200, body: 'fast' });
    expect(servedAt).toBeLessThan((failed.at as number) + 600);
    expect(phases(child)).toEqual(['readiness-failed']);
    const elapsed = await child.phase('delay-elapsed');
    expect((elapsed.at as number) - (failed.at as number)).toBeGreaterThanOrEqual(595);
    await child.phase('listener-closed');
    await expect(request(fresh, port, '/fast')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it('exits non-zero when a connection had to be forced at the grace timeout', async () => {
    const { child, port, agent } = await start({ TIMEOUT_MS: '300' });
    const response = request(agent, port, '/never');
    await child.event('request', (m) => m.url === '/never');
    const signalledAt = Date.now();
    child.process.kill('SIGTERM');
    await expect(response).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await child.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(290);
    // Cleanup still ran, after the forced close.
    expect((await child.event('cleanup')).open).toBe(0);
  });

  it('uses the configured exit code for an unclean shutdown', async () => {
    const { child, port, agent } = await start({ TIMEOUT_MS: '100', UNCLEAN_EXIT_CODE: '3' });
    const response = request(agent, port, '/never').catch((error: Error) => error);
    await child.event('request', (m) => m.url === '/never');
    child.process.kill('SIGINT');
    expect(await child.exited).toEqual({ code: 3, signal: null });
    expect(await response).toBeInstanceOf(Error);
  });

  it('a second signal during shutdown forces the remaining connections and exits at once', async () => {
    const { child, port, agent } = await start({ TIMEOUT_MS: '20000' });
    const response = request(agent, port, '/never').catch((error: Error) => error);
    await child.event('request', (m) => m.url === '/never');
    child.process.kill('SIGTERM');
    await child.phase('listener-closed');
    const secondAt = Date.now();
    child.process.kill('SIGINT');
    expect(await child.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - secondAt).toBeLessThan(1_500);
    expect(await response).toBeInstanceOf(Error);
  });

  it("shuts down on PM2's 'shutdown' message", async () => {
    const { child, port, agent } = await start();
    expect(await request(agent, port, '/fast')).toMatchObject({ status: 200 });
    child.send('shutdown');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(phases(child)).toEqual(['readiness-failed', 'listener-closed', 'drained', 'cleanup-done', 'sockets-closed']);
  });

  it('a failing cleanup hook makes the exit unclean', async () => {
    const { child } = await start({ CLEANUP_FAIL: '1' });
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 1, signal: null });
    expect((await child.event('cleanup')).open).toBe(0);
  });

  it('with exit: false the process keeps running after the shutdown', async () => {
    const { child } = await start({ EXIT: '0' });
    child.process.kill('SIGTERM');
    const done = await child.event('done');
    expect(done).toMatchObject({ clean: true, exitCode: 0, trigger: 'SIGTERM' });
    child.send({ cmd: 'ping' });
    expect(await child.event('pong')).toMatchObject({ state: 'closed' });
    child.send({ cmd: 'exit' });
    expect((await child.exited).code).toBe(42);
  });
});

describe('handleSignals in this process', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    for (const server of servers) await closeServer(server);
  });

  it('reports the outcome through onDone and removes its handlers when asked', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    servers.push(server);
    const drainer = createDrainer(server);
    await listen(server);
    const before = process.listenerCount('SIGUSR2');
    let resolveDone!: (outcome: ShutdownOutcome) => void;
    const done = new Promise<ShutdownOutcome>((resolve) => (resolveDone = resolve));
    const remove = drainer.handleSignals({ signals: ['SIGUSR2'], exit: false, onDone: resolveDone });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.kill(process.pid, 'SIGUSR2');
    const outcome = await done;
    expect(outcome).toMatchObject({ trigger: 'SIGUSR2', clean: true, exitCode: 0 });
    expect(outcome.report?.forced).toBe(0);
    expect(drainer.state).toBe('closed');
    expect(server.listening).toBe(false);
    remove();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  it('rejects bad options and a second installation with a DrainError', () => {
    const server = http.createServer();
    const drainer = createDrainer(server);
    expect(() => drainer.handleSignals({ signals: [] })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => drainer.handleSignals({ signals: ['TERM' as NodeJS.Signals] })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => drainer.handleSignals({ exit: 'yes' as unknown as boolean })).toThrow(DrainError);
    expect(() => drainer.handleSignals({ uncleanExitCode: 256 })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    expect(() => drainer.handleSignals({ bogus: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_OPTION' }));
    const remove = drainer.handleSignals({ signals: ['SIGUSR2'], exit: false });
    expect(() => drainer.handleSignals({ signals: ['SIGUSR2'], exit: false })).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_INVALID_ARGUMENT' }));
    remove();
    drainer.handleSignals({ signals: ['SIGUSR2'], exit: false })();
    drainer.dispose();
  });
});
