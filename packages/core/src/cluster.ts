/**
 * `@drainkit/core/cluster`: rolling restarts of a `node:cluster` app with no
 * failed request. The primary calls `rollingRestart()`; every worker calls
 * `joinCluster(drainer)` once its drainer exists.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { Drainer } from './drainer.js';
import { DrainError, DrainErrorCodes, describeValue, invalidOption } from './errors.js';
import { checkKnownKeys, checkObject, countOption, durationOption } from './options.js';
import { socketsClosedOrLingerOver } from './signals.js';

/** Worker -> primary once its server listens; primary -> worker to drain and exit; worker -> primary with the outcome. */
type ClusterMessage = { drainkit: 'ready' } | { drainkit: 'drain'; timeoutMs?: number } | { drainkit: 'drained'; total: number; forced: number };

function isMessage(value: unknown, kind: ClusterMessage['drainkit']): boolean {
  return typeof value === 'object' && value !== null && (value as { drainkit?: unknown }).drainkit === kind;
}

// ------------------------------------------------------------------ primary

export interface RollingRestartOptions {
  /** Workers replaced at the same time. Default 1. */
  concurrency?: number;
  /** How long a replacement may take to start listening. Default 30 000 ms. */
  readyTimeoutMs?: number;
  /** The old worker's drain grace period; defaults to its drainer's `timeoutMs`. */
  drainTimeoutMs?: number;
  /** How long after the drain request the old worker may take to exit before it is killed. Default 60 000 ms. */
  exitTimeoutMs?: number;
  /** Starts the replacement of a worker. Default `cluster.fork()`. */
  fork?: (old: Worker) => Worker;
}

export interface WorkerRestart {
  oldId: number;
  newId: number;
  oldPid: number | undefined;
  newPid: number | undefined;
  /** Connections the old worker drained, and how many of them it had to force. */
  drained: number;
  forced: number;
  /** True when the old worker did not exit in time and was killed with SIGKILL. */
  killed: boolean;
  durationMs: number;
}

export interface RollingRestartReport {
  restarts: WorkerRestart[];
  durationMs: number;
}

interface RestartSettings {
  concurrency: number;
  readyTimeoutMs: number;
  drainTimeoutMs: number | undefined;
  exitTimeoutMs: number;
  fork: (old: Worker) => Worker;
}

let running: Promise<RollingRestartReport> | undefined;

/**
 * Replaces every live worker: forks its replacement, waits until the
 * replacement's server listens, asks the old worker to drain and exit, and
 * waits for that exit before moving on. A call while one runs returns the same
 * promise. Rejects with `ERR_DRAIN_ROLLING_RESTART_FAILED` (and starts no
 * further replacements) when a replacement fails to become ready.
 */
export function rollingRestart(options?: RollingRestartOptions): Promise<RollingRestartReport> {
  if (running) return running;
  try {
    if (!cluster.isPrimary) throw new DrainError(DrainErrorCodes.NOT_IN_CLUSTER, 'rollingRestart() runs in the cluster primary');
    const opts = checkObject('rollingRestart options', options);
    checkKnownKeys('rollingRestart options', opts, ['concurrency', 'readyTimeoutMs', 'drainTimeoutMs', 'exitTimeoutMs', 'fork']);
    if (opts.fork !== undefined && typeof opts.fork !== 'function') throw invalidOption('fork', opts.fork, 'a function');
    const settings: RestartSettings = {
      concurrency: countOption('concurrency', opts.concurrency, 1, 1),
      readyTimeoutMs: durationOption('readyTimeoutMs', opts.readyTimeoutMs, 30_000),
      drainTimeoutMs: opts.drainTimeoutMs === undefined ? undefined : durationOption('drainTimeoutMs', opts.drainTimeoutMs, 0),
      exitTimeoutMs: durationOption('exitTimeoutMs', opts.exitTimeoutMs, 60_000),
      fork: (opts.fork as RestartSettings['fork'] | undefined) ?? (() => cluster.fork()),
    };
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    running = restartAll(workers, settings).finally(() => {
      running = undefined;
    });
    return running;
  } catch (error) {
    return Promise.reject(error);
  }
}

async function restartAll(workers: Worker[], settings: RestartSettings): Promise<RollingRestartReport> {
  const startedAt = Date.now();
  const restarts: WorkerRestart[] = [];
  const queue = [...workers];
  let failure: unknown;
  const runner = async () => {
    while (failure === undefined) {
      const old = queue.shift();
      if (!old) return;
      if (old.isDead()) continue;
      try {
        restarts.push(await replaceWorker(old, settings));
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, Math.max(1, queue.length)) }, runner));
  if (failure !== undefined) throw failure;
  return { restarts, durationMs: Date.now() - startedAt };
}

async function replaceWorker(old: Worker, settings: RestartSettings): Promise<WorkerRestart> {
  const startedAt = Date.now();
  const replacement = settings.fork(old);
  try {
    await waitForReady(replacement, settings.readyTimeoutMs);
  } catch (error) {
    // Gone before the caller hears of the failure, so it can retry at once.
    if (!replacement.isDead()) {
      const gone = new Promise((resolve) => replacement.once('exit', resolve));
      replacement.process.kill('SIGKILL');
      await gone;
    }
    throw error;
  }
  let drained = 0;
  let forced = 0;
  const onMessage = (message: unknown) => {
    if (!isMessage(message, 'drained')) return;
    drained = (message as { total: number }).total;
    forced = (message as { forced: number }).forced;
  };
  old.on('message', onMessage);
  const exited = waitForExit(old, settings.exitTimeoutMs);
  if (!old.isDead() && old.isConnected()) {
    const request: ClusterMessage = settings.drainTimeoutMs === undefined ? { drainkit: 'drain' } : { drainkit: 'drain', timeoutMs: settings.drainTimeoutMs };
    old.send(request);
  }
  const killed = await exited;
  old.off('message', onMessage);
  return {
    oldId: old.id,
    newId: replacement.id,
    oldPid: old.process.pid,
    newPid: replacement.process.pid,
    drained,
    forced,
    killed,
    durationMs: Date.now() - startedAt,
  };
}

function waitForReady(worker: Worker, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: DrainError) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const onMessage = (message: unknown) => {
      if (isMessage(message, 'ready')) done();
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(
        new DrainError(
          DrainErrorCodes.ROLLING_RESTART_FAILED,
          `Replacement worker ${worker.id} exited (${signal ?? `code ${code}`}) before it was ready; did it call joinCluster(drainer)?`,
        ),
      );
    const timer = setTimeout(
      () =>
        done(
          new DrainError(
            DrainErrorCodes.ROLLING_RESTART_FAILED,
            `Replacement worker ${worker.id} was not listening after ${timeoutMs} ms; did it call joinCluster(drainer)?`,
          ),
        ),
      timeoutMs,
    );
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
}

/** Resolves true if the worker had to be killed. */
function waitForExit(worker: Worker, timeoutMs: number): Promise<boolean> {
  if (worker.isDead()) return Promise.resolve(false);
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      worker.process.kill('SIGKILL');
    }, timeoutMs);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve(killed);
    });
  });
}

// ------------------------------------------------------------------- worker

export interface JoinClusterOptions {
  /** Exit once drained (0 if clean, 1 if something was forced or a cleanup hook failed). Default true. */
  exit?: boolean;
}

/**
 * Takes part in `rollingRestart()`: tells the primary when the drainer's
 * server listens, and on its request runs `drainer.shutdown()` and exits.
 * Returns a function that stops listening to the primary.
 */
export function joinCluster(drainer: Drainer, options?: JoinClusterOptions): () => void {
  const opts = checkObject('joinCluster options', options);
  checkKnownKeys('joinCluster options', opts, ['exit']);
  if (opts.exit !== undefined && typeof opts.exit !== 'boolean') throw invalidOption('exit', opts.exit, 'true or false');
  const exit = opts.exit ?? true;
  if (drainer === null || typeof drainer !== 'object' || typeof (drainer as Partial<Drainer>).shutdown !== 'function') {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `joinCluster(drainer) needs a drainer, got ${describeValue(drainer)}`);
  }
  const worker = cluster.worker;
  if (!cluster.isWorker || !worker) throw new DrainError(DrainErrorCodes.NOT_IN_CLUSTER, 'joinCluster() runs in a cluster worker');

  const server = drainer.server;
  const sendReady = () => {
    if (worker.isConnected()) worker.send({ drainkit: 'ready' } satisfies ClusterMessage);
  };
  if (server.listening) sendReady();
  else server.once('listening', sendReady);

  let draining = false;
  const onMessage = (message: unknown) => {
    if (!isMessage(message, 'drain') || draining) return;
    draining = true;
    const timeoutMs = (message as { timeoutMs?: unknown }).timeoutMs;
    let cleanupFailed = false;
    const onCleanupError = () => {
      cleanupFailed = true;
    };
    drainer.on('cleanup:error', onCleanupError);
    drainer.shutdown(typeof timeoutMs === 'number' ? { timeoutMs } : undefined).then(
      (report) => {
        drainer.off('cleanup:error', onCleanupError);
        const reply: ClusterMessage = { drainkit: 'drained', total: report.total, forced: report.forced };
        leave(report.forced === 0 && !cleanupFailed ? 0 : 1, reply);
      },
      () => leave(1, undefined),
    );
  };

  const leave = (code: number, reply: ClusterMessage | undefined) => {
    stop();
    if (!worker.isConnected()) {
      if (exit) void socketsClosedOrLingerOver(drainer).then(() => process.exit(code));
      return;
    }
    const disconnect = () => {
      if (!exit) return;
      // Exiting before the last sockets' lingering close is over would reset them.
      void socketsClosedOrLingerOver(drainer).then(() => {
        // A worker-initiated disconnect marks the exit as intended (worker.exitedAfterDisconnect in the primary).
        process.once('disconnect', () => process.exit(code));
        worker.disconnect();
      });
    };
    if (reply) worker.send(reply, undefined, disconnect);
    else disconnect();
  };

  worker.on('message', onMessage);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    worker.off('message', onMessage);
    server.off('listening', sendReady);
  };
  return stop;
}
