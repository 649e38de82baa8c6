import type https from 'node:https';
import { DrainError, DrainErrorCodes } from './errors.js';

/** The listen part of an adapter's attach() options; everything else goes to createDrainer(). */
export interface ListenOptions {
  /** Default 0 (a random free port; attach() reports the bound one in `listening`). */
  port?: number;
  /** Default: all interfaces, as `app.listen()`. */
  host?: string;
  /** Serve HTTPS with these options (key, cert, ...) instead of plain HTTP. */
  https?: https.ServerOptions;
}

export interface ResolvedListenOptions<Rest> {
  port: number;
  host: string | undefined;
  tlsOptions: https.ServerOptions | undefined;
  /** The options that are not about listening (the drainer's, validated by createDrainer()). */
  rest: Rest;
}

/**
 * Splits and validates the options of an adapter's attach(app, options) (Express, Koa):
 * the port, host and https options it listens with, and the rest. Throws
 * ERR_DRAIN_INVALID_OPTION before anything is created.
 */
export function resolveListenOptions<Options extends ListenOptions>(options: Options): ResolvedListenOptions<Omit<Options, keyof ListenOptions>> {
  if (options === null || typeof options !== 'object') {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'attach(app, options): options must be an object');
  }
  const { port = 0, host, https: tlsOptions, ...rest } = options;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "port": expected a whole number from 0 to 65535, got ${String(port)}`);
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'Invalid option "host": expected a non-empty string');
  }
  if (tlsOptions !== undefined && (tlsOptions === null || typeof tlsOptions !== 'object')) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'Invalid option "https": expected https.createServer options');
  }
  return { port, host, tlsOptions, rest };
}
