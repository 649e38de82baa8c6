import net from 'node:net';
import { runBeforeShutdownHooks } from './before-shutdown.js';
import { maybeAllClosed } from './closing.js';
import type { DrainerCore } from './core.js';
import { abortConnection, shuttingDownError } from './drain-control.js';
import { DrainOperation } from './drain.js';
import type { OperationSettings } from './drain.js';
import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { checkKnownKeys, checkObject, durationOption, stringOption } from './options.js';
import { stopAgeSweep } from './retirement.js';
import { withTimeout } from './timeout.js';
import type { DrainReport } from './types.js';

/**
 * The shutdown sequence and its phases (events.ts `ShutdownPhase`):
 * readiness-failed → (shutdownDelayMs) delay-elapsed and, at the same time,
 * (beforeShutdown hooks) before-shutdown-done → listener-closed →
 * every connection drains (one DrainOperation, which late connections join)
 * → drained → cleanup hooks → cleanup-done → sockets-closed (closing.ts).
 */

export interface CleanupHookOptions {
  /** Shown in errors and events. */
  name?: string;
  /** Default 5 000 ms. */
  timeoutMs?: number;
}

/** `onShutdown(run, options)`: a cleanup step run after the last connection closed. */
export function addCleanupHook(core: DrainerCore, run: () => unknown, options: CleanupHookOptions | undefined): void {
  if (typeof run !== 'function') {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `onShutdown(fn): fn must be a function, got ${describeValue(run)}`);
  }
  const opts = checkObject('onShutdown options', options);
  checkKnownKeys('onShutdown options', opts, ['name', 'timeoutMs']);
  core.cleanupHooks.push({
    name: stringOption('name', opts.name) ?? (run.name || `cleanup#${core.cleanupHooks.length + 1}`),
    timeoutMs: durationOption('timeoutMs', opts.timeoutMs, 5_000),
    run,
  });
}

/** The synchronous start of `shutdown()`: readiness fails and every `signalFor()` signal aborts at once. */
export function startShutdown(core: DrainerCore, settings: OperationSettings, delayMs: number): Promise<DrainReport> {
  core.state = 'shutting-down';
  core.shutdownController?.abort(shuttingDownError());
  for (const connection of core.registry.connections.values()) abortConnection(connection, shuttingDownError);
  core.diagnostics.phase('readiness-failed');
  core.shutdownPromise = runShutdown(core, settings, delayMs);
  return core.shutdownPromise;
}

async function runShutdown(core: DrainerCore, settings: OperationSettings, delayMs: number): Promise<DrainReport> {
  const diagnostics = core.diagnostics;
  // Still serving normally meanwhile, so load balancers remove this instance
  // before the listener closes; the listener waits for the delay and the hooks both.
  const delay = delayMs > 0 ? new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref()).then(() => diagnostics.phase('delay-elapsed')) : undefined;
  const hooks =
    core.beforeShutdownHooks.length > 0
      ? runBeforeShutdownHooks(core.beforeShutdownHooks, (hook, error) => {
          diagnostics.log('error', { err: error, hook: hook.name }, 'drainkit: beforeShutdown hook failed');
          diagnostics.fire('cleanup:error', { name: hook.name, error, stage: 'before-shutdown' });
        }).then(() => diagnostics.phase('before-shutdown-done'))
      : undefined;
  // Without either, the listener closes in this same tick, as shutdown() always did.
  if (delay || hooks) await Promise.all([delay, hooks]);
  const startedAt = Date.now();
  core.listenerStopped = true;
  const listenerClosed = stopListening(core.server);
  diagnostics.phase('listener-closed');
  stopAgeSweep(core);
  const operation = new DrainOperation(core.host, 'shutdown', [...core.registry.connections.values()], settings, startedAt);
  core.shutdownOperation = operation;
  diagnostics.drainStarted(operation);
  const running = operation.start(startedAt);
  operation.seal(Date.now());
  const report = diagnostics.drainEnded(await running);
  core.shutdownOperation = undefined;
  void listenerClosed.then(() => {
    core.listenerClosed = true;
    maybeAllClosed(core);
  });
  // Connections we never tracked (opened before the drainer) hold the listener open; give them the rest of the grace period.
  // Lingering sockets hold it open too, but they close by themselves within lingerMs.
  if ((await openSocketCount(core.server)) > core.lingering.size) {
    const left = startedAt + settings.timeoutMs - Date.now();
    if (!(await withTimeout(listenerClosed, left))) {
      (core.server as { closeAllConnections?: () => void }).closeAllConnections?.();
    }
  }
  diagnostics.phase('drained', report);
  await runCleanupHooks(core);
  diagnostics.phase('cleanup-done', report);
  core.state = 'closed';
  core.shutdownReport = report;
  maybeAllClosed(core);
  return report;
}

/** Sockets Node counts for the server: tracked, lingering and never tracked. */
function openSocketCount(server: net.Server): Promise<number> {
  return new Promise((resolve) => {
    server.getConnections((error, count) => resolve(error ? Infinity : count));
  });
}

/** Stop accepting without Node's own idle-connection sweep, which would reset connections drainkit is closing gracefully. */
function stopListening(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    net.Server.prototype.close.call(server, () => resolve());
  });
}

async function runCleanupHooks(core: DrainerCore): Promise<void> {
  for (const hook of core.cleanupHooks) {
    try {
      const outcome = await withTimeout(Promise.resolve().then(hook.run), hook.timeoutMs);
      if (!outcome) throw new Error(`timed out after ${hook.timeoutMs} ms`);
    } catch (cause) {
      const error = new DrainError(DrainErrorCodes.CLEANUP_FAILED, `Shutdown cleanup "${hook.name}" failed: ${(cause as Error)?.message ?? String(cause)}`, {
        cause,
      });
      core.diagnostics.log('error', { err: error, hook: hook.name }, 'drainkit: shutdown cleanup failed');
      core.diagnostics.fire('cleanup:error', { name: hook.name, error, stage: 'cleanup' });
    }
  }
}
