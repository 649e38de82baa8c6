import http from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../helpers/net.js';
import { assertBuilt, Child } from './child.js';

// Issue 12, items 6-8: handleSignals() in a real child process receiving real signals.

const children: Child[] = [];
const agents: http.Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await Promise.all(children.splice(0).map((child) => child.stop()));
});
beforeAll(assertBuilt);

async function start(env: Record<string, string>) {
  const child = new Child('hostile-signals.mjs', env);
  children.push(child);
  const ports = (await child.event('listening')) as unknown as { app: number; metrics?: number };
  const agent = new http.Agent({ keepAlive: true });
  agents.push(agent);
  return { child, ports, agent };
}

describe('shutdown misuse in a real process', () => {
  it('two drainers with handleSignals(): SIGTERM exits only when both shutdowns are over; the in-flight response is not lost (item 6)', async () => {
    const { child, ports, agent } = await start({ SCENARIO: 'two-drainers' });
    const response = request(agent, ports.app, '/slow');
    await child.event('request', (m) => m.url === '/slow');
    child.process.kill('SIGTERM');
    // The metrics server has nothing in flight: its shutdown is over almost at once.
    await child.event('done', (m) => m.server === 'metrics');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.alive).toBe(true);
    child.send({ cmd: 'release' });
    expect(await response).toMatchObject({ status: 200, body: 'slow done' });
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.messages.filter((m) => m.event === 'done').map((m) => m.server).sort()).toEqual(['app', 'metrics']);
  });

  it('an onShutdown hook that never settles times out, the next hook runs, and the exit code says so (item 7)', async () => {
    const { child } = await start({ SCENARIO: 'hung-hook' });
    child.process.kill('SIGTERM');
    const exited = await child.exited;
    expect(exited).toEqual({ code: 1, signal: null });
    const hooks = child.messages.filter((m) => m.event === 'hook').map((m) => m.name);
    expect(hooks).toEqual(['hung', 'after']);
    expect(child.messages.find((m) => m.event === 'cleanup-error')).toMatchObject({ hook: 'hung', message: expect.stringContaining('timed out') });
    expect(child.messages.find((m) => m.event === 'done')).toMatchObject({ exitCode: 1, clean: false });
  });

  it('SIGTERM shortens a shutdown started earlier with a huge shutdownDelayMs (item 8)', async () => {
    const { child, ports, agent } = await start({ SCENARIO: 'long-delay' });
    child.send({ cmd: 'shutdown', options: { shutdownDelayMs: 2_147_483_647, timeoutMs: 2_147_483_647 } });
    await child.event('shutdown-started');
    // Still serving during the delay.
    expect((await request(agent, ports.app, '/fast')).status).toBe(200);
    agent.destroy();
    const signalledAt = Date.now();
    child.process.kill('SIGTERM');
    expect((await child.exited).signal).toBeNull();
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(child.messages.some((m) => m.event === 'phase' && m.phase === 'listener-closed')).toBe(true);
  });
});
