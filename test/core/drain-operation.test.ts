import { describe, expect, it } from 'vitest';
import type { Connection } from '../../packages/core/src/connection.js';
import { DrainTask } from '../../packages/core/src/connection.js';
import { DrainOperation } from '../../packages/core/src/drain.js';
import type { OperationHost } from '../../packages/core/src/drain.js';

// The operation's bookkeeping alone (socket behaviour is covered on real
// sockets elsewhere): here every connection's drain finishes the moment it
// starts, as an idle HTTP/1.1 connection's does once its FIN is queued.
function hostFinishingAtOnce(): OperationHost & { progressCalls: number } {
  return {
    progressCalls: 0,
    startTask(connection: Connection, operation: DrainOperation, now: number): DrainTask {
      const task = new DrainTask(connection, now, now + operation.settings.timeoutMs, operation.settings.reason);
      task.operations.push(operation);
      task.settle(now);
      return task;
    },
    advance() {},
    deferAll() {
      return 0;
    },
    recordClosedAtOnce() {},
    progress() {
      this.progressCalls++;
    },
    progressAll(_operation: DrainOperation, results: readonly unknown[]) {
      this.progressCalls += results.length;
    },
  };
}

function fakeConnections(count: number): Connection[] {
  return Array.from({ length: count }, (_, key) => ({ id: `t-${key}`, protocol: 'http/1.1' }) as unknown as Connection);
}

describe('DrainOperation', () => {
  it('records 100,000 drains that finish as they start without nesting a call per connection', async () => {
    const host = hostFinishingAtOnce();
    const operation = new DrainOperation(host, 'shutdown', fakeConnections(100_000), { timeoutMs: 1_000, concurrency: Infinity, spreadMs: 0, reason: 'test' }, Date.now());
    const running = operation.start(Date.now());
    operation.seal(Date.now());
    const report = await running;
    expect(report).toMatchObject({ total: 100_000, closed: 100_000, forced: 0 });
    expect(host.progressCalls).toBe(100_000);
  });

  it('with a concurrency limit, still starts them all', async () => {
    const host = hostFinishingAtOnce();
    const operation = new DrainOperation(host, 'batch', fakeConnections(20_000), { timeoutMs: 1_000, concurrency: 2, spreadMs: 0, reason: undefined }, Date.now());
    const report = await operation.start(Date.now());
    expect(report.total).toBe(20_000);
  });
});
