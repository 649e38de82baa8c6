import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it, vi } from 'vitest';
import { channelNames } from '@drainkit/core';
import type { ConnectionCloseMessage, ConnectionOpenMessage, DrainEndMessage, DrainStartMessage } from '@drainkit/core';
import { DrainOperation } from '../../packages/core/src/drain.js';
import { get } from '../helpers/net.js';
import { observedServers } from './fixture.js';

const { cleanups, setup, client } = observedServers();

/** Subscribes to every drainkit channel and records [name, message] in order. */
function record(): Array<[string, unknown]> {
  const seen: Array<[string, unknown]> = [];
  for (const name of Object.values(channelNames)) {
    const onMessage = (message: unknown) => seen.push([name, message]);
    diagnosticsChannel.subscribe(name, onMessage);
    cleanups.push(() => diagnosticsChannel.unsubscribe(name, onMessage));
  }
  return seen;
}

describe('diagnostics_channel', () => {
  it('names the four required channels exactly', () => {
    expect(channelNames).toMatchObject({
      connectionOpen: 'drainkit:connection:open',
      connectionClose: 'drainkit:connection:close',
      drainStart: 'drainkit:drain:start',
      drainEnd: 'drainkit:drain:end',
    });
  });

  it('publishes open, drain start, close and drain end with their payloads for a drain mid-request', async () => {
    const seen = record();
    const { drainer, port, started, release } = await setup();
    const c = await client(port);
    c.write(get('/slow'));
    await started(1);
    const [connection] = drainer.connections();
    const draining = drainer.drainConnection(connection!.id, { reason: 'test' });
    release();
    const result = await draining;
    await c.closed;

    const names = seen.map(([name]) => name).filter((name) => name !== 'drainkit:connection:drained');
    expect(names).toEqual(['drainkit:connection:open', 'drainkit:drain:start', 'drainkit:connection:close', 'drainkit:drain:end']);

    const message = <T>(name: string) => seen.find(([n]) => n === name)![1] as T;
    const open = message<ConnectionOpenMessage>('drainkit:connection:open');
    expect(open.drainerId).toBe(drainer.drainerId);
    expect(open.connection.id).toBe(connection!.id);
    expect(open.connection.protocol).toBe('http/1.1');

    expect(message<DrainStartMessage>('drainkit:drain:start')).toEqual({
      kind: 'connection',
      ids: [connection!.id],
      total: 1,
      reason: 'test',
      drainerId: drainer.drainerId,
    });

    const close = message<ConnectionCloseMessage>('drainkit:connection:close');
    expect(close).toMatchObject({ forced: false, drainerId: drainer.drainerId });
    expect(close.connection.id).toBe(connection!.id);
    expect(close.connection.state).toBe('closed');

    const end = message<DrainEndMessage>('drainkit:drain:end');
    expect(end.drainerId).toBe(drainer.drainerId);
    expect(end.report).toMatchObject({ kind: 'connection', total: 1, closed: 1, forced: 0 });
    expect(end.report.results).toEqual([result]);
    expect(result.completedRequests).toBe(1);
  });

  it('reports a forced close as forced, and tells two drainers apart by drainerId', async () => {
    const seen = record();
    const first = await setup({ timeoutMs: 50 });
    const second = await setup();
    const stuck = await client(first.port);
    stuck.write(get('/never'));
    await first.started(1);
    const other = await client(second.port);
    other.write(get('/fast'));
    await other.waitFor((data) => data.includes('fast'));

    const report = await first.drainer.shutdown();
    expect(report.forced).toBe(1);

    const closes = seen.filter(([name]) => name === 'drainkit:connection:close').map(([, m]) => m as ConnectionCloseMessage);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ forced: true, drainerId: first.drainer.drainerId });
    const opens = seen.filter(([name]) => name === 'drainkit:connection:open').map(([, m]) => (m as ConnectionOpenMessage).drainerId);
    expect(opens.sort()).toEqual([first.drainer.drainerId, second.drainer.drainerId].sort());
    const end = seen.find(([name]) => name === 'drainkit:drain:end')![1] as DrainEndMessage;
    expect(end.report).toMatchObject({ kind: 'shutdown', total: 1, forced: 1 });
    expect(second.drainer.connections()).toHaveLength(1);
  });

  it('publishes nothing while nobody subscribes, and starts as soon as someone does', async () => {
    // Count publish() calls on the very channel objects core uses (channels are
    // process-wide singletons by name).
    const counts = new Map<string, number>();
    for (const name of Object.values(channelNames)) {
      const channel = diagnosticsChannel.channel(name) as diagnosticsChannel.Channel & { publish: (m: unknown) => void };
      expect(channel.hasSubscribers, name).toBe(false);
      const original = Object.getOwnPropertyDescriptor(channel, 'publish');
      channel.publish = function (this: typeof channel, message: unknown) {
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return Object.getPrototypeOf(this).publish.call(this, message);
      };
      cleanups.push(() => {
        if (original) Object.defineProperty(channel, 'publish', original);
        else delete (channel as Partial<typeof channel>).publish;
      });
    }

    // The list of ids in a drain:start payload is a copy of every id drained: it must not be built for nobody.
    const idsBuilt = vi.spyOn(DrainOperation.prototype, 'ids', 'get');
    cleanups.push(() => idsBuilt.mockRestore());

    const { drainer, port } = await setup();
    const traffic = async () => {
      const c = await client(port);
      c.write(get('/fast') + get('/fast'));
      await c.waitFor((data) => (data.match(/fast/g) ?? []).length === 2);
      await drainer.drainConnection(drainer.connections()[0]!.id);
      await c.closed;
    };
    await traffic();
    expect([...counts.entries()]).toEqual([]);
    expect(idsBuilt).not.toHaveBeenCalled();

    const onClose = () => {};
    diagnosticsChannel.subscribe(channelNames.connectionClose, onClose);
    try {
      await traffic();
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.connectionClose, onClose);
    }
    expect([...counts.entries()]).toEqual([[channelNames.connectionClose, 1]]);

    counts.clear();
    await traffic();
    expect([...counts.entries()]).toEqual([]);
    expect(idsBuilt).not.toHaveBeenCalled();

    const onStart = () => {};
    diagnosticsChannel.subscribe(channelNames.drainStart, onStart);
    try {
      await traffic();
    } finally {
      diagnosticsChannel.unsubscribe(channelNames.drainStart, onStart);
    }
    expect(counts.get(channelNames.drainStart)).toBe(1);
    expect(idsBuilt).toHaveBeenCalledTimes(1);
  });
});
