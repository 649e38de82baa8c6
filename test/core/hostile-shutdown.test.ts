import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import { describe, expect, it } from 'vitest';
import { RawClient, deferred, get, listen, until } from '../helpers/net.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';

// Issue 12 item 8 at test scale, on real sockets (the rest of the issue: hostile.test.ts).
// The same through SIGTERM in a real process: test/production/hostile-signals.test.ts.

const { drainers, clients, track } = cleanupAfterEach();

describe('a later shutdown() shortens an earlier one (item 8)', () => {
  /** A server with one request in its handler until `gate` resolves. */
  async function requestInFlight() {
    const gate = deferred();
    const server = track(http.createServer((_req, res) => void gate.promise.then(() => res.end('slow'))));
    const drainer = createDrainer(server);
    drainers.push(drainer);
    const port = await listen(server);
    const client = await RawClient.connect(port);
    clients.push(client);
    client.write(get('/slow'));
    await until(() => drainer.stats().inFlight === 1);
    return { drainer, gate, client };
  }

  it('while draining: a shorter timeoutMs lowers the deadline of the connections in flight', async () => {
    const { drainer, gate } = await requestInFlight();
    const first = drainer.shutdown({ timeoutMs: 60_000 });
    await until(() => drainer.stats().draining === 1);
    const startedAt = Date.now();
    expect(drainer.shutdown({ timeoutMs: 100 })).toBe(first);
    const report = await first;
    // Forced at about 100 ms, not at 60 s.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(report).toMatchObject({ total: 1, forced: 1 });
    gate.resolve();
  });

  it("during the shutdown delay: a shorter delay ends it, and its shorter timeoutMs is the drain's", async () => {
    const { drainer, gate, client } = await requestInFlight();
    const first = drainer.shutdown({ shutdownDelayMs: 60_000, timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drainer.stats().draining).toBe(0);
    const startedAt = Date.now();
    expect(drainer.shutdown({ shutdownDelayMs: 0, timeoutMs: 100 })).toBe(first);
    const report = await first;
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(report).toMatchObject({ total: 1, forced: 1 });
    await client.closed;
    gate.resolve();
  });

  it('a longer timeoutMs or delay changes nothing', async () => {
    const { drainer, gate, client } = await requestInFlight();
    const first = drainer.shutdown({ timeoutMs: 300 });
    await until(() => drainer.stats().draining === 1);
    const startedAt = Date.now();
    expect(drainer.shutdown({ timeoutMs: 60_000, shutdownDelayMs: 60_000 })).toBe(first);
    const report = await first;
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(report).toMatchObject({ total: 1, forced: 1 });
    await client.closed;
    gate.resolve();
  });
});
