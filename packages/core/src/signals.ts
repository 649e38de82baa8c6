import { DrainError, DrainErrorCodes, invalidOption } from './errors.js';
import { checkKnownKeys, checkObject, countOption, durationOption } from './options.js';
import { withTimeout } from './timeout.js';
import type { CleanupErrorEvent } from './events.js';
import type { ResolvedSettings } from './strategy.js';
import type { DrainOptions, DrainReport, ShutdownOptions } from './types.js';

/**
 * What handleSignals needs of a drainer (the `Drainer` class satisfies it);
 * an interface, so this module does not import drainer.ts, which imports it.
 */
export interface SignalTarget {
  readonly settings: ResolvedSettings;
  shutdown(options?: ShutdownOptions): Promise<DrainReport>;
  drain(filter: undefined, options?: DrainOptions): Promise<DrainReport>;
  socketsClosed(): Promise<void>;
  on(event: 'cleanup:error', listener: (event: CleanupErrorEvent) => void): unknown;
  off(event: 'cleanup:error', listener: (event: CleanupErrorEvent) => void): unknown;
}

export interface HandleSignalsOptions {
  /** Signals that start the shutdown. Default `['SIGTERM', 'SIGINT']` (Kubernetes and Docker send SIGTERM, PM2 SIGINT). */
  signals?: NodeJS.Signals[];
  /** Also shut down on PM2's `'shutdown'` process message (`shutdown_with_message`, Windows). Default true. */
  pm2Message?: boolean;
  /** Exit the process when the shutdown is over. Default true. */
  exit?: boolean;
  /** Exit code when a connection had to be forced, a cleanup hook failed, or a second signal cut the shutdown short. Default 1. */
  uncleanExitCode?: number;
  /** Grace period of the drain; defaults to the drainer's `timeoutMs`. */
  timeoutMs?: number;
  /** Defaults to the drainer's `shutdownDelayMs`. */
  shutdownDelayMs?: number;
  /** Called with the report when the shutdown is over, before the process exits. */
  onDone?: (outcome: ShutdownOutcome) => void;
}

export interface ShutdownOutcome {
  /** The signal or `'shutdown'` message that started it. */
  trigger: string;
  /** Undefined when a second signal cut the shutdown short. */
  report: DrainReport | undefined;
  /** True when nothing was forced and every cleanup hook succeeded. */
  clean: boolean;
  exitCode: number;
}

const installed = new WeakSet<SignalTarget>();
/** After a second signal, how long the forced close may take before the process exits anyway. */
const FORCE_EXIT_WAIT_MS = 1_000;

/**
 * Runs `drainer.shutdown()` once on the first signal (or PM2 `'shutdown'`
 * message); a second one forces what is left and exits. Returns a function
 * that removes the handlers.
 */
export function handleSignals(drainer: SignalTarget, options?: HandleSignalsOptions): () => void {
  const opts = checkObject('handleSignals options', options);
  checkKnownKeys('handleSignals options', opts, ['signals', 'pm2Message', 'exit', 'uncleanExitCode', 'timeoutMs', 'shutdownDelayMs', 'onDone']);
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((s) => typeof s === 'string' && /^SIG[A-Z0-9]+$/.test(s))) {
    throw invalidOption('signals', signals, 'a non-empty array of signal names such as "SIGTERM"');
  }
  const pm2Message = booleanOption('pm2Message', opts.pm2Message, true);
  const exit = booleanOption('exit', opts.exit, true);
  const uncleanExitCode = countOption('uncleanExitCode', opts.uncleanExitCode, 1, 0);
  if (uncleanExitCode > 255) throw invalidOption('uncleanExitCode', uncleanExitCode, 'a whole number from 0 to 255');
  const timeoutMs = durationOption('timeoutMs', opts.timeoutMs, drainer.settings.timeoutMs);
  const shutdownDelayMs = durationOption('shutdownDelayMs', opts.shutdownDelayMs, drainer.settings.shutdownDelayMs);
  const onDone = opts.onDone;
  if (onDone !== undefined && typeof onDone !== 'function') throw invalidOption('onDone', onDone, 'a function');
  if (installed.has(drainer)) {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, 'handleSignals() was already called for this drainer; call the function it returned first');
  }
  installed.add(drainer);

  const logger = drainer.settings.logger;
  // A throwing logger must not stop the shutdown (this runs inside signal handlers).
  const log = (level: 'info' | 'warn' | 'error', obj: object, msg: string) => {
    try {
      logger?.[level](obj, msg);
    } catch {
      // The logger is the reporting channel; nowhere better to report it.
    }
  };
  let trigger: string | undefined;
  let finished = false;

  const finish = (outcome: ShutdownOutcome): void => {
    if (finished) return;
    finished = true;
    removeMessageListener();
    try {
      (onDone as HandleSignalsOptions['onDone'])?.(outcome);
    } catch (error) {
      log('error', { err: error }, 'drainkit: handleSignals onDone threw');
    }
    if (exit) process.exit(outcome.exitCode);
  };

  const start = (name: string): void => {
    if (finished) return;
    if (trigger !== undefined) {
      forceAndExit(name);
      return;
    }
    trigger = name;
    log('info', { trigger: name }, 'drainkit: shutting down');
    let cleanupFailed = false;
    const onCleanupError = () => {
      cleanupFailed = true;
    };
    drainer.on('cleanup:error', onCleanupError);
    drainer.shutdown({ timeoutMs, shutdownDelayMs }).then(
      async (report) => {
        drainer.off('cleanup:error', onCleanupError);
        const clean = report.forced === 0 && !cleanupFailed;
        // Exiting now would cut short the lingering close of the last sockets (a reset instead of a FIN).
        if (exit) await socketsClosedOrLingerOver(drainer);
        finish({ trigger: name, report, clean, exitCode: clean ? 0 : uncleanExitCode });
      },
      (error: unknown) => {
        // shutdown() rejects only on a disposed drainer.
        drainer.off('cleanup:error', onCleanupError);
        log('error', { err: error }, 'drainkit: shutdown failed');
        finish({ trigger: name, report: undefined, clean: false, exitCode: uncleanExitCode });
      },
    );
  };

  /** Second signal: the operator wants out now. Joining every connection with a 0 ms deadline forces it. */
  const forceAndExit = (name: string): void => {
    log('warn', { trigger: name }, 'drainkit: second signal, forcing remaining connections');
    const forced = drainer.drain(undefined, { timeoutMs: 0, reason: 'forced-by-signal' }).catch(() => undefined);
    const waited = new Promise((resolve) => setTimeout(resolve, FORCE_EXIT_WAIT_MS).unref());
    void Promise.race([forced, waited]).then(() => finish({ trigger: trigger!, report: undefined, clean: false, exitCode: uncleanExitCode }));
  };

  const onSignal = (signal: NodeJS.Signals) => start(signal);
  const onMessage = (message: unknown) => {
    // PM2 sends the bare string 'shutdown' (pm2 docs, "Graceful Stop": shutdown_with_message).
    if (message === 'shutdown') start('shutdown');
  };
  let messageListening = false;
  const removeMessageListener = () => {
    // A 'message' listener keeps the IPC channel (and so the process) alive.
    if (messageListening) process.off('message', onMessage);
    messageListening = false;
  };

  for (const signal of signals as NodeJS.Signals[]) process.on(signal, onSignal);
  if (pm2Message && typeof process.send === 'function') {
    process.on('message', onMessage);
    messageListening = true;
  }

  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    for (const signal of signals as NodeJS.Signals[]) process.off(signal, onSignal);
    removeMessageListener();
    installed.delete(drainer);
  };
}

/** After shutdown: every socket closed, or the linger period (plus slack) over, whichever comes first. */
export async function socketsClosedOrLingerOver(drainer: Pick<SignalTarget, 'settings' | 'socketsClosed'>): Promise<void> {
  await withTimeout(drainer.socketsClosed(), drainer.settings.lingerMs + 250);
}

function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(name, value, 'true or false');
  return value;
}
