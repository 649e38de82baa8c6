/**
 * Every `handleSignals()` installed in the process (issue 12, item 6): an app
 * server and a metrics server each with its own drainer both catch SIGTERM;
 * the first shutdown to finish must not exit the process while the other is
 * still draining its requests. The last one to finish exits, with the worst
 * exit code of them all.
 *
 * Kept on a registered global symbol, so an ESM and a CommonJS copy of
 * @drainkit/core loaded side by side share one registry.
 */

export interface InstalledShutdown {
  /** Set when its shutdown started (a signal or PM2 message arrived). */
  running: boolean;
  /** Set when its shutdown is over; `exitCode` is then its verdict. */
  done: boolean;
  exitCode: number;
  /** Whether this installation wants the process to exit when all are over. */
  exit: boolean;
}

const kRegistry = Symbol.for('drainkit.installedShutdowns');
type GlobalWithRegistry = typeof globalThis & { [kRegistry]?: Set<InstalledShutdown> };

function registry(): Set<InstalledShutdown> {
  const holder = globalThis as GlobalWithRegistry;
  return (holder[kRegistry] ??= new Set());
}

export function installShutdown(exit: boolean): InstalledShutdown {
  const entry: InstalledShutdown = { running: false, done: false, exitCode: 0, exit };
  registry().add(entry);
  return entry;
}

export function uninstallShutdown(entry: InstalledShutdown): void {
  registry().delete(entry);
  // A removed installation may have been the one the others waited for.
  settleIfAllDone();
}

export function shutdownStarted(entry: InstalledShutdown): void {
  entry.running = true;
}

/** Records `entry`'s verdict; exits the process if it was the last shutdown still running. */
export function shutdownFinished(entry: InstalledShutdown, exitCode: number): void {
  entry.done = true;
  entry.exitCode = exitCode;
  settleIfAllDone();
}

let exiting = false;

function settleIfAllDone(): void {
  if (exiting) return;
  const started = [...registry()].filter((entry) => entry.running);
  if (started.length === 0 || started.some((entry) => !entry.done)) return;
  if (!started.some((entry) => entry.exit)) return;
  exiting = true;
  process.exit(Math.max(...started.map((entry) => entry.exitCode)));
}
