import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { checkKnownKeys, checkObject, durationOption, stringOption } from './options.js';
import { withTimeout } from './timeout.js';

/**
 * `beforeShutdown(fn)` hooks: awaited after readiness fails and before the
 * listener closes (deregister from service discovery, stop a queue consumer),
 * concurrently with each other and with `shutdownDelayMs`. A hook that throws
 * or outlives its timeout is reported and the shutdown goes on without it.
 */
export interface BeforeShutdownOptions {
  /** Shown in errors and events. */
  name?: string;
  /** Default 5 000 ms; the listener closes at the latest this long after shutdown started (or after the delay, if longer). */
  timeoutMs?: number;
}

export interface BeforeShutdownHook {
  name: string;
  timeoutMs: number;
  run: () => unknown;
}

export function beforeShutdownHook(run: unknown, options: unknown, index: number): BeforeShutdownHook {
  if (typeof run !== 'function') {
    throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `beforeShutdown(fn): fn must be a function, got ${describeValue(run)}`);
  }
  const opts = checkObject('beforeShutdown options', options);
  checkKnownKeys('beforeShutdown options', opts, ['name', 'timeoutMs']);
  return {
    name: stringOption('name', opts.name) ?? (run.name || `beforeShutdown#${index + 1}`),
    timeoutMs: durationOption('timeoutMs', opts.timeoutMs, 5_000),
    run: run as () => unknown,
  };
}

/** Runs every hook at once; resolves when each has settled or timed out. `report` gets each failure. */
export async function runBeforeShutdownHooks(
  hooks: readonly BeforeShutdownHook[],
  report: (hook: BeforeShutdownHook, error: DrainError) => void,
): Promise<void> {
  await Promise.all(
    hooks.map(async (hook) => {
      try {
        const inTime = await withTimeout(Promise.resolve().then(hook.run), hook.timeoutMs);
        if (!inTime) throw new Error(`timed out after ${hook.timeoutMs} ms`);
      } catch (cause) {
        report(
          hook,
          new DrainError(DrainErrorCodes.CLEANUP_FAILED, `beforeShutdown hook "${hook.name}" failed: ${(cause as Error)?.message ?? String(cause)}`, { cause }),
        );
      }
    }),
  );
}
