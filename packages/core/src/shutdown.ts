import { runBeforeShutdownHooks } from './before-shutdown.js';
import { maybeAllClosed } from './closing.js';
import type { DrainerCore } from './core.js';
import { abortConnection, joinTask, shuttingDownError } from './drain-control.js';
import { DrainOperation } from './drain.js';
import type { OperationSettings } from './drain.js';
import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { stopListening } from './listener-close.js';
import { handshakesSettled } from './tls-handshakes.js';
import { checkKnownKeys, checkObject, durationOption, stringOption } from './options.js';
import { stopAgeSweep } from './retirement.js';
import { withTimeout } from './timeout.js';
import { adoptUntracked, closeUntracked } from './untracked.js';
import type { DrainReport } from './types.js';

/**
 * The shutdown sequence and its phases (events.ts `ShutdownPhase`):
 * readiness-failed → (shutdownDelayMs) delay-elapsed and, at the same time,
 * (beforeShutdown hooks) before-shutdown-done → listener-closed (after the
 * kernel's queue is accepted) → every connection drains (one DrainOperation,
 * which connections adopted or finishing a TLS handshake later join)
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
  // Only connections someone asked a signalFor() have signals to abort.
  if (core.signalsHandedOut) for (const connection of core.registry.connections.values()) abortConnection(connection, shuttingDownError);
  core.diagnostics.phase('readiness-failed');
  core.shutdownSettings = settings;
  core.shutdownPromise = runShutdown(core, settings, delayMs);
  return core.shutdownPromise;
}

async function runShutdown(core: DrainerCore, settings: OperationSettings, delayMs: number): Promise<DrainReport> {
  const diagnostics = core.diagnostics;
  // Still serving normally meanwhile, so load balancers remove this instance
  // before the listener closes; the listener waits for the delay and the hooks both.
  // A later shutdown() call may end the delay sooner (shortenShutdown).
  const delay =
    delayMs > 0
      ? new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          timer.unref();
          core.shutdownDelay = { endsAt: Date.now() + delayMs, timer, resolve };
        }).then(() => {
          core.shutdownDelay = undefined;
          diagnostics.phase('delay-elapsed');
        })
      : undefined;
  const hooks =
    core.beforeShutdownHooks.length > 0
      ? runBeforeShutdownHooks(core.beforeShutdownHooks, (hook, error) => {
          diagnostics.log('error', { err: error, hook: hook.name }, 'drainkit: beforeShutdown hook failed');
          diagnostics.fire('cleanup:error', { name: hook.name, error, stage: 'before-shutdown' });
        }).then(() => diagnostics.phase('before-shutdown-done'))
      : undefined;
  if (delay || hooks) await Promise.all([delay, hooks]);
  const startedAt = Date.now();
  core.shutdownDeadlineAt = startedAt + settings.timeoutMs;
  // The listener stops accepting once what the kernel had queued is accepted,
  // one connection per loop turn (listener-close.ts); those connections drain with the rest.
  // The drain starts only then: every connection it closes makes a proxy open a new one
  // for its next request, and a new connection still in its handshake when the listener
  // closes is reset with the request the proxy writes on it (a 502 for a POST). Until the
  // close (a few loop turns, at most 1 s) the proxy keeps using its pooled connections.
  // Rolling restarts behind nginx and HAProxy without health checks: 14 and 3 lost in 48
  // restarts with the drain started first, 0 and 0 this way (docs/proxies.md).
  const { stopped: listenerStopped, closed: listenerClosed } = stopListening(core.server, core.shutdownDeadlineAt);
  const polled = await listenerStopped;
  core.listenerStopped = true;
  diagnostics.phase('listener-closed');
  stopAgeSweep(core);
  const operation = new DrainOperation(core.host, 'shutdown', [...core.registry.connections.values()], settings, startedAt);
  core.shutdownOperation = operation;
  diagnostics.drainStarted(operation);
  const running = operation.start(startedAt, polled);
  // What Node lists but drainkit never saw joins the drain (track() adds it), once
  // the long-idle connections' FINs are out, which would otherwise wait for a walk
  // of every parser Node lists: at once when the drain's first pass closed them
  // (`polled`), else a check phase later, after http1-drain.ts closeDeferred.
  if (!polled) await new Promise<void>((resolve) => setImmediate(resolve));
  adoptUntracked(core);
  // Connections accepted from the kernel's queue over TLS end their handshakes after
  // the listener closed: they join this drain (and its report) once they do.
  await handshakesSettled(core);
  operation.seal(Date.now());
  const report = await running;
  core.shutdownOperation = undefined;
  void listenerClosed.then(() => {
    core.listenerClosed = true;
    maybeAllClosed(core);
  });
  // Sockets drainkit never tracked get the rest of the grace period, then are closed and reported.
  await closeUntracked(core, listenerClosed, report);
  diagnostics.drainEnded(report);
  diagnostics.phase('drained', report);
  await runCleanupHooks(core);
  diagnostics.phase('cleanup-done', report);
  core.state = 'closed';
  core.shutdownReport = report;
  maybeAllClosed(core);
  return report;
}

/**
 * A later `shutdown()` call (SIGTERM after an admin shutdown with a long
 * delay, say) shortens the one in progress: a shorter delay ends it sooner, a
 * shorter timeout lowers every connection's deadline; longer ones change nothing.
 */
export function shortenShutdown(core: DrainerCore, timeoutMs: number | undefined, delayMs: number | undefined): void {
  const now = Date.now();
  const delay = core.shutdownDelay;
  if (delay !== undefined && delayMs !== undefined && now + delayMs < delay.endsAt) {
    clearTimeout(delay.timer);
    delay.endsAt = now + delayMs;
    delay.timer = setTimeout(delay.resolve, delayMs);
    delay.timer.unref();
  }
  if (timeoutMs === undefined) return;
  const settings = core.shutdownSettings;
  // Not draining yet: the drain will use the shorter timeout.
  if (core.shutdownDeadlineAt === Infinity) {
    if (settings !== undefined && timeoutMs < settings.timeoutMs) settings.timeoutMs = timeoutMs;
    return;
  }
  const deadlineAt = now + timeoutMs;
  if (deadlineAt >= core.shutdownDeadlineAt) return;
  core.shutdownDeadlineAt = deadlineAt;
  // Connections that join the drain later get no more than what is left.
  if (settings !== undefined) settings.timeoutMs = Math.min(settings.timeoutMs, timeoutMs);
  const operation = core.shutdownOperation;
  if (operation !== undefined) for (const task of [...operation.activeTasks()]) joinTask(core, task, deadlineAt);
}

async function runCleanupHooks(core: DrainerCore): Promise<void> {
  for (const hook of core.cleanupHooks) {
    try {
      // A ref'd timer: with a hook that never settles and nothing else pending, an
      // unref'd one let the process exit at once, code 0, later hooks never run.
      const outcome = await withTimeout(Promise.resolve().then(hook.run), hook.timeoutMs, true);
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
