/// <reference types="vite/client" />
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/kind-client.js';
import type { KindClient } from '../helpers/kind-client.js';
import { until } from '../helpers/net.js';
import type { KindApp, ServerKind } from '../helpers/server-kinds.js';

// Every file in test/kinds/ is a server kind; the same drain behaviours run against each.
const modules = import.meta.glob<{ default: ServerKind | ServerKind[] }>('../kinds/*.ts', { eager: true });
// DRAINKIT_KINDS=nest: only the kinds whose name contains it (the vitest project 'nest11').
const only = process.env.DRAINKIT_KINDS;
const kinds = Object.values(modules)
  .flatMap((m) => m.default)
  .filter((kind) => only === undefined || kind.name.includes(only));

describe.each(kinds.map((kind) => [kind.name, kind] as const))('shared drain suite: %s', (_name, kind) => {
  let app: KindApp | undefined;
  const clients: KindClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await app?.close();
    app = undefined;
  });

  async function start(): Promise<KindApp> {
    app = await kind.start();
    return app;
  }

  async function connect(target: KindApp): Promise<KindClient> {
    const client = await connectClient(kind, target.port);
    clients.push(client);
    return client;
  }

  function idOf(target: KindApp, client: KindClient): string {
    const found = target.drainer.connections().find((c) => c.remotePort === client.localPort);
    if (!found) throw new Error(`connection on port ${client.localPort} not tracked`);
    return found.id;
  }

  it('tracks connections with the protocol they speak', async () => {
    const target = await start();
    const client = await connect(target);
    expect((await client.request('/fast')).body).toBe('fast');
    const info = target.drainer.get(idOf(target, client))!;
    expect(info).toMatchObject({ protocol: kind.protocol, secure: kind.secure, requestsServed: 1, inFlight: 0 });
  });

  it('closes an idle connection at once, cleanly', async () => {
    const target = await start();
    const client = await connect(target);
    await client.request('/fast');
    await until(() => target.drainer.get(idOf(target, client))?.state === 'idle');
    const result = await target.drainer.drainConnection(idOf(target, client));
    expect(result.forced).toBe(false);
    expect((await client.closed()).clean).toBe(true);
  });

  it('lets an in-flight request finish, then closes only that connection', async () => {
    const target = await start();
    const client = await connect(target);
    const other = await connect(target);
    await other.request('/fast');
    const started = target.slowStarted();
    const response = client.request('/slow');
    await started;
    const id = idOf(target, client);
    const draining = target.drainer.drainConnection(id);
    target.release();
    const [res, result] = await Promise.all([response, draining]);
    expect(res).toMatchObject({ status: 200, body: 'slow done' });
    if (kind.protocol === 'http/1.1') expect(res.connectionClose).toBe(true);
    expect(result).toMatchObject({ forced: false, completedRequests: 1 });
    expect((await client.closed()).clean).toBe(true);
    expect((await other.request('/fast')).body).toBe('fast');
  });

  it('shutdown() waits for the in-flight request and closes every connection', async () => {
    const target = await start();
    const busy = await connect(target);
    const idle = await connect(target);
    await idle.request('/fast');
    const started = target.slowStarted();
    const response = busy.request('/slow');
    await started;
    const shutdown = target.drainer.shutdown({ timeoutMs: 5_000 });
    expect(target.drainer.isReady()).toBe(false);
    expect((await idle.closed()).clean).toBe(true);
    target.release();
    expect(await response).toMatchObject({ status: 200, body: 'slow done' });
    const report = await shutdown;
    expect(report).toMatchObject({ forced: 0, total: 2 });
    expect((await busy.closed()).clean).toBe(true);
    expect(target.drainer.stats().open).toBe(0);
  });

  it('forces a connection whose handler does not finish by the deadline', async () => {
    const target = await start();
    const client = await connect(target);
    const started = target.slowStarted();
    void client.request('/slow').catch(() => undefined);
    await started;
    const result = await target.drainer.drainConnection(idOf(target, client), { timeoutMs: 60 });
    expect(result.forced).toBe(true);
    await client.closed();
  });

  if (kind.protocol === 'http/1.1') {
    it('never lets pipelined requests behind the drained one reach the application', async () => {
      const target = await start();
      const client = await connect(target);
      const started = target.slowStarted();
      client.pipeline!(['/slow', '/fast', '/fast']);
      await started;
      const result = target.drainer.drainConnection(idOf(target, client));
      target.release();
      expect(await result).toMatchObject({ forced: false, completedRequests: 1, droppedRequests: 2 });
      await client.closed();
      expect(client.responses()).toBe(1);
      expect(target.calls).toEqual(['/slow']);
    });
  }
});
