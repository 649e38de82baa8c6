/**
 * Every error drainkit raises is a `DrainError` with one of these stable codes
 * (the undici pattern: one base class, literal-typed codes, all in one module).
 */
export const DrainErrorCodes = {
  /** The id names no open connection of this drainer (unknown, or already closed). */
  UNKNOWN_CONNECTION: 'ERR_DRAIN_UNKNOWN_CONNECTION',
  /** An option has the wrong type or value; the message names the option and the value. */
  INVALID_OPTION: 'ERR_DRAIN_INVALID_OPTION',
  /** An argument that is not an option (a request, a socket, a filter) has the wrong type. */
  INVALID_ARGUMENT: 'ERR_DRAIN_INVALID_ARGUMENT',
  /** A second drainer was created for a server that already has one. */
  ALREADY_ATTACHED: 'ERR_DRAIN_ALREADY_ATTACHED',
  /** `createDrainer` was given something that is not a `net.Server`. */
  NOT_A_SERVER: 'ERR_DRAIN_NOT_A_SERVER',
  /** The drainer was disposed; it no longer tracks the server. */
  DISPOSED: 'ERR_DRAIN_DISPOSED',
  /** A framework adapter has no drainer yet: its HTTP server does not exist or was never attached. */
  NOT_ATTACHED: 'ERR_DRAIN_NOT_ATTACHED',
  /** Abort reason of a request's drain signal: its connection started draining. */
  CONNECTION_DRAINING: 'ERR_DRAIN_CONNECTION_DRAINING',
  /** Abort reason of a request's drain signal: the server started shutting down. */
  SHUTTING_DOWN: 'ERR_DRAIN_SHUTTING_DOWN',
  /** A shutdown cleanup hook failed or timed out. */
  CLEANUP_FAILED: 'ERR_DRAIN_CLEANUP_FAILED',
  /** A `@drainkit/core/cluster` function was called in the wrong process (rollingRestart outside the primary, joinCluster outside a worker). */
  NOT_IN_CLUSTER: 'ERR_DRAIN_NOT_IN_CLUSTER',
  /** A replacement worker exited or did not become ready in time; the old worker keeps serving. */
  ROLLING_RESTART_FAILED: 'ERR_DRAIN_ROLLING_RESTART_FAILED',
  /** A function needs an optional peer dependency that is not installed; the message names the package to install. */
  MISSING_PEER: 'ERR_DRAIN_MISSING_PEER',
} as const;

export type DrainErrorCode = (typeof DrainErrorCodes)[keyof typeof DrainErrorCodes];

export class DrainError<C extends DrainErrorCode = DrainErrorCode> extends Error {
  override readonly name = 'DrainError';
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isDrainError(value: unknown, code?: DrainErrorCode): value is DrainError {
  return value instanceof DrainError && (code === undefined || value.code === code);
}

/** Formats a value for an error message without throwing on odd inputs. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

export function invalidOption(name: string, value: unknown, expected: string): DrainError<'ERR_DRAIN_INVALID_OPTION'> {
  return new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "${name}": expected ${expected}, got ${describeValue(value)}`);
}
