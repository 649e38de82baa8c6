import type https from 'node:https';
import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import { looksLikeDrainer } from './drainer-shape.js';

/** The listen part of an adapter's attach() options; everything else goes to createDrainer(). */
export interface ListenOptions {
  /** Default 0 (a random free port; attach() reports the bound one in `listening`). A numeric string (`process.env.PORT`) is accepted, as `server.listen()` accepts it. */
  port?: number | string;
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
  if (looksLikeDrainer(options)) {
    throw new DrainError(
      DrainErrorCodes.INVALID_OPTION,
      'attach(app, options): pass options, not a drainer: attach() creates the server and its drainer (attach(app, { port: 3000, timeoutMs: 10_000 })); ' +
        "to use a drainer you already have, install drainMiddleware(drainer) in the app and listen on that drainer's server",
    );
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `attach(app, options): options must be an object, got ${describeValue(options)}`);
  }
  const { port: rawPort = 0, host, https: tlsOptions, ...rest } = options;
  const port = listenPort(rawPort);
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "host": expected a non-empty string, got ${describeValue(host)}`);
  }
  if (tlsOptions !== undefined && (tlsOptions === null || typeof tlsOptions !== 'object')) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "https": expected https.createServer options, got ${describeValue(tlsOptions)}`);
  }
  return { port, host, tlsOptions, rest };
}

/**
 * A port as `server.listen()` takes it: a whole number from 0 to 65535, or a
 * string of one (`process.env.PORT`). Node's rule (lib/internal/validators.js
 * validatePort, Node 20 and 24): non-blank, and `+port` a 16-bit unsigned integer.
 */
function listenPort(value: unknown): number {
  const blank = typeof value === 'string' && value.trim() === '';
  const port = typeof value === 'number' || (typeof value === 'string' && !blank) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new DrainError(
      DrainErrorCodes.INVALID_OPTION,
      `Invalid option "port": expected a whole number from 0 to 65535 (or a string of one, such as process.env.PORT), got ${describeValue(value)}`,
    );
  }
  return port;
}
