import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { checkKnownKeys, checkObject, durationOption } from './options.js';

/**
 * Health checks (a database ping, a queue connection) that the readiness
 * handlers of every adapter run. A check is async; it gets an AbortSignal that
 * aborts at its timeout. Throwing, rejecting, resolving `false` or timing out
 * is a failure, reported with its message. Results are cached per check for
 * `cacheMs`, and concurrent probes share one run, so a probe storm costs one
 * check per interval, never one per probe.
 */
export type HealthCheck = (signal: AbortSignal) => unknown;

export interface HealthCheckOptions {
  /** How long the check may take before it counts as failed. Default 2 000 ms. */
  timeoutMs?: number;
  /** A failing critical check makes readiness answer 503. Default true. */
  critical?: boolean;
  /** How long a result is reused. Default 1 000 ms; 0 runs the check on every probe (concurrent probes still share a run). */
  cacheMs?: number;
}

export interface HealthCheckResult {
  status: 'up' | 'down';
  critical: boolean;
  /** How long the check took, in ms. */
  durationMs: number;
  /** When the result was obtained (ms since the epoch). */
  checkedAt: number;
  /** Why it failed. */
  error?: string;
}

export interface HealthReport {
  /** False when a critical check is down. */
  healthy: boolean;
  checks: Record<string, HealthCheckResult>;
}

interface Entry {
  check: HealthCheck;
  timeoutMs: number;
  critical: boolean;
  cacheMs: number;
  last: HealthCheckResult | undefined;
  running: Promise<HealthCheckResult> | undefined;
}

const NAME = /^[\w.:-]{1,64}$/;

export class HealthRegistry {
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  add(name: unknown, check: unknown, options?: HealthCheckOptions): void {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new DrainError(
        DrainErrorCodes.INVALID_ARGUMENT,
        `healthCheck(name, check): name must be 1-64 letters, digits or . _ : -, got ${describeValue(name)}`,
      );
    }
    if (typeof check !== 'function') {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `healthCheck(name, check): check must be a function, got ${describeValue(check)}`);
    }
    const opts = checkObject('healthCheck options', options);
    checkKnownKeys('healthCheck options', opts, ['timeoutMs', 'critical', 'cacheMs']);
    if (opts.critical !== undefined && typeof opts.critical !== 'boolean') {
      throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "critical": expected true or false, got ${describeValue(opts.critical)}`);
    }
    if (this.entries.has(name)) {
      throw new DrainError(DrainErrorCodes.INVALID_ARGUMENT, `healthCheck(name, check): a check named ${JSON.stringify(name)} is already registered`);
    }
    this.entries.set(name, {
      check: check as HealthCheck,
      timeoutMs: durationOption('timeoutMs', opts.timeoutMs, 2_000),
      critical: (opts.critical as boolean | undefined) ?? true,
      cacheMs: durationOption('cacheMs', opts.cacheMs, 1_000),
      last: undefined,
      running: undefined,
    });
  }

  remove(name: string): boolean {
    return this.entries.delete(name);
  }

  /** Runs (or reuses) every check. Never rejects. */
  async run(now = Date.now()): Promise<HealthReport> {
    const names = [...this.entries.keys()];
    const results = await Promise.all(names.map((name) => this.result(this.entries.get(name)!, now)));
    const checks: Record<string, HealthCheckResult> = {};
    let healthy = true;
    results.forEach((result, index) => {
      checks[names[index]!] = result;
      if (result.critical && result.status === 'down') healthy = false;
    });
    return { healthy, checks };
  }

  private result(entry: Entry, now: number): Promise<HealthCheckResult> {
    if (entry.running) return entry.running;
    if (entry.last && now - entry.last.checkedAt < entry.cacheMs) return Promise.resolve(entry.last);
    const running = runCheck(entry).then((result) => {
      entry.last = result;
      entry.running = undefined;
      return result;
    });
    entry.running = running;
    return running;
  }
}

async function runCheck(entry: Entry): Promise<HealthCheckResult> {
  const startedAt = Date.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`timed out after ${entry.timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, entry.timeoutMs);
    timer.unref();
  });
  const done = (status: 'up' | 'down', error?: string): HealthCheckResult => {
    const finishedAt = Date.now();
    const result: HealthCheckResult = { status, critical: entry.critical, durationMs: finishedAt - startedAt, checkedAt: finishedAt };
    if (error !== undefined) result.error = error;
    return result;
  };
  try {
    const value = await Promise.race([Promise.resolve().then(() => entry.check(controller.signal)), timedOut]);
    return value === false ? done('down', 'the check returned false') : done('up');
  } catch (error) {
    return done('down', error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timer);
  }
}
