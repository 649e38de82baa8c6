import { describe, expect, it } from 'vitest';
import { requestInFlight as requestInFlightIn } from '../helpers/fixtures.js';
import { until } from '../helpers/net.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';

// Issue 12 item 8 at test scale, on real sockets (the rest of the issue: hostile.test.ts).
// The same through SIGTERM in a real process: test/production/hostile-signals.test.ts.

const env = cleanupAfterEach();

describe('a later shutdown() shortens an earlier one (item 8)', () => {
  const requestInFlight = () => requestInFlightIn(env);

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
