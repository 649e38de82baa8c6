import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { createDrainer } from '@drainkit/core';
import type { DrainReport } from '@drainkit/core';
import { describe, expect, it } from 'vitest';
import { FrameType, RawH2Client } from '../helpers/h2-raw.js';
import { listen, until } from '../helpers/net.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { countTimers } from '../helpers/timers.js';

// Hostile case 5 at test scale (soak/hostile.mjs has it at 1,000-2,000 sessions):
// HTTP/2 clients that complete the preface and SETTINGS and never open a stream.
// A drain waits up to idleGraceMs from each session's start for its first stream
// (http2-drain.ts awaitFirstStream), so such sessions cost a drain idleGraceMs,
// never its timeoutMs, and all of them on the drain operation's one timer (their
// sockets then linger for the clients' FINs on the drainer's one linger timer).

const env = cleanupAfterEach();
const { drainers, clients, track } = env;

const MAX_STREAM_ID = 2 ** 31 - 1;
const IDLE_GRACE_MS = 400;
const TIMEOUT_MS = 10_000;

const activeTimeouts = () => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;

/**
 * `k` stream-less h2c sessions, then `stop` (shutdown or drain); the peak number of timers
 * alive during the stop (through setTimeout, unref'd included; and ref'd ones as
 * getActiveResourcesInfo() lists them), sampled every 5 ms off a timer of the test's own.
 */
async function streamless(k: number, stop: 'shutdown' | 'drain') {
  const server = track(http2.createServer((_req, res) => res.end('ok')));
  const drainer = createDrainer(server, { idleGraceMs: IDLE_GRACE_MS, timeoutMs: TIMEOUT_MS });
  drainers.push(drainer);
  const port = await listen(server);
  const openedAt = Date.now();
  const sessions = await Promise.all(Array.from({ length: k }, () => RawH2Client.connect(port)));
  clients.push(...sessions);
  for (const session of sessions) {
    // A hostile client: it never answers a PING either.
    session.autoAckPing = false;
    await session.waitFor(() => session.frames.some((f) => f.type === FrameType.SETTINGS && !(f.flags & 1)), "the server's SETTINGS");
  }
  await until(() => drainer.connections().length === k, 5_000, 'every session to be tracked');
  const timers = countTimers();
  const resourcesBefore = activeTimeouts();
  let peak = 0;
  let resourcesPeak = 0;
  const sample = () => {
    peak = Math.max(peak, timers.live.size);
    resourcesPeak = Math.max(resourcesPeak, activeTimeouts() - resourcesBefore);
  };
  // Made before the spy counts anything: the test's own timer is not among `live`; unref'd, not among the resources either.
  const sampler = setInterval(sample, 5);
  sampler.unref();
  timers.live.clear();
  const startedAt = Date.now();
  let report: DrainReport;
  try {
    const stopping = stop === 'shutdown' ? drainer.shutdown() : drainer.drain();
    sample();
    report = await stopping;
    sample();
  } finally {
    clearInterval(sampler);
    timers.restore();
  }
  const elapsed = Date.now() - startedAt;
  await Promise.all(sessions.map((session) => session.closed));
  return { drainer, sessions, report, elapsed, waitedBefore: startedAt - openedAt, peak, resourcesPeak };
}

describe('HTTP/2 sessions that never open a stream (hostile case 5)', () => {
  it('shutdown() resolves in about idleGraceMs (not timeoutMs); each session gets GOAWAY(NO_ERROR) and a clean close; all reported, none forced; one drain timer (and one linger timer) whatever their number', async () => {
    const few = await streamless(4, 'shutdown');
    const many = await streamless(40, 'shutdown');
    for (const [k, run] of [
      [4, few],
      [40, many],
    ] as const) {
      // Each session waited for its first stream until idleGraceMs after it opened, then went away.
      expect(run.elapsed).toBeGreaterThanOrEqual(IDLE_GRACE_MS - run.waitedBefore - 20);
      expect(run.elapsed).toBeLessThan(IDLE_GRACE_MS + 2_000);
      expect(run.report).toMatchObject({ kind: 'shutdown', total: k, closed: k, forced: 0 });
      for (const result of run.report.results) {
        expect(result).toMatchObject({ forced: false, completedRequests: 0, droppedRequests: 0, abortedRequests: 0, protocol: 'h2' });
        expect(result.durationMs).toBeLessThan(IDLE_GRACE_MS + 2_000);
      }
      for (const session of run.sessions) {
        // GOAWAY(2^31-1) first, then the final one naming stream 0 (none was processed): safe to retry anything.
        expect(session.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: 0 });
        expect(session.goaways.at(-1)).toEqual({ lastStreamId: 0, errorCode: 0 });
        // Closed with a FIN, not a reset.
        expect(session.ended).toBe(true);
        expect(session.error).toBeUndefined();
      }
      expect(run.drainer.stats()).toMatchObject({ open: 0, forcedClosed: 0 });
      // The shutdown's one drain operation's timer, and the drainer's one linger
      // timer once the first session's FIN is out: for 4 sessions as for 40.
      expect(run.peak).toBeGreaterThanOrEqual(1);
      expect(run.peak).toBeLessThanOrEqual(2);
      // getActiveResourcesInfo() lists ref'd timers only: a shutdown's one timer is ref'd (drain.ts), a drain()'s is not.
      // At most 2 above the count before: that one, and the worker's own (vitest) that may come and go; one per session would be 40.
      expect(run.resourcesPeak).toBeLessThanOrEqual(2);
    }
  });

  it('drain() of every connection does the same, on its one timer (and the linger timer)', async () => {
    const run = await streamless(24, 'drain');
    expect(run.elapsed).toBeLessThan(IDLE_GRACE_MS + 2_000);
    expect(run.report).toMatchObject({ kind: 'batch', total: 24, closed: 24, forced: 0 });
    for (const session of run.sessions) {
      expect(session.goaways[0]).toEqual({ lastStreamId: MAX_STREAM_ID, errorCode: 0 });
      expect(session.goaways.at(-1)).toEqual({ lastStreamId: 0, errorCode: 0 });
      expect(session.ended).toBe(true);
    }
    expect(run.peak).toBeLessThanOrEqual(2);
  });

  it("a client that also ignores the server's FIN does not hold the drain: drained at the server's FIN, its socket lingers lingerMs, then is destroyed; not forced", async () => {
    const lingerMs = 1_500;
    const server = track(http2.createServer((_req, res) => res.end('ok')));
    const drainer = createDrainer(server, { idleGraceMs: 200, lingerMs, timeoutMs: TIMEOUT_MS });
    drainers.push(drainer);
    const port = await listen(server);
    // Preface and SETTINGS, then nothing: no stream, no SETTINGS ACK, no PING ACK, and no FIN of its own.
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    clients.push(socket);
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, FrameType.SETTINGS, 0, 0, 0, 0, 0])]));
    let ended = false;
    socket.on('end', () => (ended = true));
    socket.resume();
    await until(() => drainer.connections().length === 1, 5_000, 'the session to be tracked');
    const report = await drainer.shutdown();
    expect(report).toMatchObject({ total: 1, closed: 1, forced: 0 });
    // The grace (200 ms from the session's start), then the GOAWAYs and the server's FIN; not lingerMs more (before: ≥ 200 + lingerMs).
    expect(report.results[0]!.durationMs).toBeGreaterThanOrEqual(100);
    expect(report.results[0]!.durationMs).toBeLessThan(200 + lingerMs / 2);
    await until(() => ended, 5_000, "the server's FIN");
    const finAt = Date.now();
    expect(drainer.stats()).toMatchObject({ open: 0, lingering: 1, forcedClosed: 0 });
    // The socket lingers for the client's FIN, which never comes: destroyed lingerMs after the server's.
    await drainer.socketsClosed();
    expect(Date.now() - finAt).toBeGreaterThanOrEqual(lingerMs - 100);
    expect(drainer.stats()).toMatchObject({ open: 0, lingering: 0, forcedClosed: 0 });
    // The server destroyed its side (the half-open client learns of it only when it writes).
    const open = await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)));
    expect(open).toBe(0);
  });
});
