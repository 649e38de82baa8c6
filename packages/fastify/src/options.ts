import { DrainError, DrainErrorCodes } from '@drainkit/core';
import type { DrainerOptions, HandleSignalsOptions } from '@drainkit/core';

/** The drainer's options, plus the routes and signal handling the plugin adds. */
export interface DrainkitOptions extends DrainerOptions {
  /** Adds `GET <path>`: 200 while serving, 503 with `Retry-After` once shutdown (or `app.close()`) starts. */
  readinessPath?: string;
  /** Adds `GET <path>`: 200 for as long as the process serves, including during a graceful shutdown. */
  livenessPath?: string;
  /** `Retry-After` of the readiness 503, in seconds. Default 5, as in the other adapters. */
  retryAfterSeconds?: number;
  /**
   * Close the app gracefully on SIGTERM/SIGINT (and PM2's 'shutdown' message),
   * then exit: `true`, or core's handleSignals options. Default false.
   */
  handleSignals?: boolean | HandleSignalsOptions;
}

export interface ResolvedPluginOptions {
  readinessPath: string | undefined;
  livenessPath: string | undefined;
  retryAfterSeconds: number | undefined;
  handleSignals: HandleSignalsOptions | undefined;
  drainerOptions: DrainerOptions;
}

/**
 * Fastify hands a plugin its register() options; these keys belong to Fastify
 * (prefix and friends) and are not ours to refuse. The drainer's own keys are
 * checked by createDrainer().
 */
const FASTIFY_REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'];

export function resolvePluginOptions(input: unknown): ResolvedPluginOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'Invalid @drainkit/fastify options: expected an object');
  }
  const { readinessPath, livenessPath, retryAfterSeconds, handleSignals, ...rest } = input as DrainkitOptions & Record<string, unknown>;
  for (const key of FASTIFY_REGISTER_KEYS) delete rest[key];
  return {
    readinessPath: pathOption('readinessPath', readinessPath),
    livenessPath: pathOption('livenessPath', livenessPath),
    retryAfterSeconds,
    handleSignals: signalsOption(handleSignals),
    drainerOptions: rest,
  };
}

function pathOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "${name}": expected a path starting with "/", got ${JSON.stringify(value)}`);
  }
  return value;
}

function signalsOption(value: unknown): HandleSignalsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'Invalid option "handleSignals": expected true, false or handleSignals options');
  }
  return value as HandleSignalsOptions;
}
