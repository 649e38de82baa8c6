import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { DrainError } from '@drainkit/core';
import type { DrainLogger } from '@drainkit/core';
import { get } from '../helpers/net.js';
import { observedServers, startServer } from './fixture.js';

const { cleanups, setup, client } = observedServers();

/** A pino logger writing JSON lines into an array. */
function capturedPino(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** The smallest logger drainkit accepts: info, warn and error, no debug. */
function minimalLogger(): DrainLogger & { calls: Array<[level: string, obj: Record<string, unknown>, msg: string | undefined]> } {
  const calls: Array<[string, Record<string, unknown>, string | undefined]> = [];
  return {
    calls,
    info: (obj, msg) => calls.push(['info', obj as Record<string, unknown>, msg]),
    warn: (obj, msg) => calls.push(['warn', obj as Record<string, unknown>, msg]),
    error: (obj, msg) => calls.push(['error', obj as Record<string, unknown>, msg]),
  };
}

describe('logger option', () => {
  it('pino as is: one info line at drain start and one at drain end, with the counts', async () => {
    const { logger, lines } = capturedPino();
    const { drainer, port } = await setup({ logger });
    const idle = await client(port);
    idle.write(get('/fast'));
    await idle.waitFor((data) => data.includes('fast'));
    const [connection] = drainer.connections();

    await drainer.drainConnection(connection!.id, { reason: 'rebalance' });
    await idle.closed;

    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [30, 'drainkit: drain started'],
      [30, 'drainkit: drain finished'],
    ]);
    expect(lines[0]).toMatchObject({ kind: 'connection', total: 1, reason: 'rebalance' });
    expect(lines[1]).toMatchObject({ kind: 'connection', total: 1, closed: 1, forced: 0 });
    expect(lines[1]!.durationMs).toBeTypeOf('number');
  });

  it('pino: a warning per forced close, naming the connection', async () => {
    const { logger, lines } = capturedPino();
    const { drainer, port, started } = await setup({ logger, timeoutMs: 50 });
    const stuck = [await client(port), await client(port)];
    for (const c of stuck) c.write(get('/never'));
    await started(2);
    const ids = drainer.connections().map((c) => c.id).sort();

    const report = await drainer.shutdown();

    expect(report.forced).toBe(2);
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings.map((line) => line.connectionId).sort()).toEqual(ids);
    for (const warning of warnings) expect(warning).toMatchObject({ msg: 'drainkit: connection force-closed at drain deadline', inFlight: 1 });
    const finished = lines.find((line) => line.msg === 'drainkit: drain finished');
    expect(finished).toMatchObject({ kind: 'shutdown', total: 2, closed: 0, forced: 2 });
    // Order: the warnings come between start and end.
    const order = lines.map((line) => line.msg);
    expect(order[0]).toBe('drainkit: drain started');
    expect(order.at(-1)).toBe('drainkit: drain finished');
  });

  it('a minimal { info, warn, error } object works, with one call per event', async () => {
    const logger = minimalLogger();
    const { drainer, port, started } = await setup({ logger, timeoutMs: 50 });
    const idle = await client(port);
    const stuck = await client(port);
    stuck.write(get('/never'));
    await started(1);
    const stuckId = drainer.connections((c) => c.inFlight === 1)[0]!.id;

    await drainer.drain();
    await Promise.all([idle.closed, stuck.closed]);

    expect(logger.calls.map(([level, , msg]) => `${level} ${msg}`)).toEqual([
      'info drainkit: drain started',
      'warn drainkit: connection force-closed at drain deadline',
      'info drainkit: drain finished',
    ]);
    expect(logger.calls[0]![1]).toMatchObject({ kind: 'batch', total: 2 });
    expect(logger.calls[1]![1]).toMatchObject({ connectionId: stuckId });
    expect(logger.calls[2]![1]).toMatchObject({ kind: 'batch', total: 2, closed: 1, forced: 1 });
  });

  it('logs a failed shutdown cleanup hook at error level', async () => {
    const logger = minimalLogger();
    const { drainer } = await setup({ logger });
    drainer.onShutdown(() => {
      throw new Error('database would not close');
    }, { name: 'db' });
    await drainer.shutdown();
    const errors = logger.calls.filter(([level]) => level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toMatchObject({ hook: 'db' });
    expect((errors[0]![1].err as Error).message).toContain('database would not close');
  });

  it('is silent by default', async () => {
    const writes = vi.spyOn(process.stdout, 'write');
    const errorWrites = vi.spyOn(process.stderr, 'write');
    cleanups.push(() => writes.mockRestore(), () => errorWrites.mockRestore());
    const { drainer, port, started } = await setup({ timeoutMs: 30 });
    const stuck = await client(port);
    stuck.write(get('/never'));
    await started(1);
    const report = await drainer.shutdown();
    expect(report.forced).toBe(1);
    expect(writes).not.toHaveBeenCalled();
    expect(errorWrites).not.toHaveBeenCalled();
  });

  it('a logger that throws does not break a drain, even a forced one', async () => {
    const throwing: DrainLogger = {
      info: () => {
        throw new Error('info broke');
      },
      warn: () => {
        throw new Error('warn broke');
      },
      error: () => {
        throw new Error('error broke');
      },
    };
    const { drainer, port, started } = await setup({ logger: throwing, timeoutMs: 50 });
    const stuck = await client(port);
    stuck.write(get('/never'));
    await started(1);
    const [connection] = drainer.connections();
    const result = await drainer.drainConnection(connection!.id);
    expect(result).toMatchObject({ id: connection!.id, forced: true, abortedRequests: 1 });
    expect(drainer.connections()).toEqual([]);
    expect(drainer.stats()).toMatchObject({ open: 0, forcedClosed: 1 });
  });

  it('rejects a logger without info, warn and error with ERR_DRAIN_INVALID_OPTION', async () => {
    for (const logger of [{ info() {}, warn() {} }, 'console', null, console.log]) {
      const attempt = () => startServer({ logger: logger as unknown as DrainLogger });
      const error = await attempt().then(
        (fixture) => {
          cleanups.push(fixture.close);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DrainError);
      expect(error).toMatchObject({ code: 'ERR_DRAIN_INVALID_OPTION' });
      expect((error as Error).message).toContain('logger');
    }
  });
});
