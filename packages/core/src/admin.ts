import type { IncomingHttpHeaders } from 'node:http';
import { adminPageReply } from './admin-page.js';
import type { Drainer } from './drainer.js';
import { DrainError, DrainErrorCodes, describeValue, invalidOption, isDrainError } from './errors.js';
import { checkKnownKeys, checkObject, countOption, durationOption } from './options.js';
import { drainerOption, notAttachedError } from './readiness.js';
import type { HttpReply } from './readiness.js';
import type { ConnectionFilter, ConnectionInfo } from './types.js';

/*
 * The framework-neutral part of the admin API that @drainkit/express and
 * @drainkit/koa mount: routes, authorization verdicts, input validation and
 * replies. It calls the drainer's public API only.
 */

export type AdminRouteName = 'page' | 'connections' | 'stats' | 'drainConnection' | 'drain' | 'shutdown';

export interface AdminRoute {
  readonly name: AdminRouteName;
  readonly method: 'GET' | 'POST';
  /** Relative to where the router is mounted; `:id` is a path parameter. */
  readonly path: string;
}

export const adminRoutes: readonly AdminRoute[] = [
  { name: 'page', method: 'GET', path: '/' },
  { name: 'connections', method: 'GET', path: '/connections' },
  { name: 'stats', method: 'GET', path: '/stats' },
  { name: 'drainConnection', method: 'POST', path: '/connections/:id/drain' },
  { name: 'drain', method: 'POST', path: '/drain' },
  { name: 'shutdown', method: 'POST', path: '/shutdown' },
];

/**
 * What `authorize` answers: `true` lets the request through; `'unauthenticated'`
 * gives 401, `'forbidden'` 403; `false` gives 401 when the request carries no
 * credentials (no Authorization or Cookie header) and 403 when it does.
 * Anything else is refused (fail closed) and reported as a DrainError.
 */
export type AdminVerdict = boolean | 'unauthenticated' | 'forbidden';
export type AdminAuthorize<Target> = (target: Target) => AdminVerdict | PromiseLike<AdminVerdict>;

export interface AdminOptions<Target> {
  /** Required: decides every request, including the HTML page. */
  authorize: AdminAuthorize<Target>;
  /** The drainer to act on; by default the one the drain middleware gave the request. */
  drainer?: Drainer;
  /** `WWW-Authenticate` of a 401 (RFC 9110 §11.6.1). Default `Basic realm="drainkit"`, which lets a browser open the page. */
  challenge?: string;
  /** Largest JSON body accepted, in bytes. Default 16 KiB. */
  bodyLimit?: number;
}

export interface ResolvedAdminOptions<Target> {
  authorize: AdminAuthorize<Target>;
  drainer: Drainer | undefined;
  challenge: string;
  bodyLimit: number;
}

export function resolveAdminOptions<Target>(input: unknown, adapterKeys: readonly string[] = []): ResolvedAdminOptions<Target> {
  const options = checkObject('adminRouter options', input);
  checkKnownKeys('adminRouter options', options, ['authorize', 'drainer', 'challenge', 'bodyLimit', ...adapterKeys]);
  if (typeof options.authorize !== 'function') {
    // An admin API that can shut the server down is never created open.
    throw invalidOption('authorize', options.authorize, 'a function (target) => true | false | "unauthenticated" | "forbidden"');
  }
  const challenge = options.challenge ?? 'Basic realm="drainkit"';
  if (typeof challenge !== 'string' || challenge.trim() === '' || /[\r\n]/.test(challenge)) {
    throw invalidOption('challenge', options.challenge, 'a WWW-Authenticate header value');
  }
  return {
    authorize: options.authorize as AdminAuthorize<Target>,
    drainer: drainerOption('adminRouter', options.drainer),
    challenge,
    bodyLimit: countOption('bodyLimit', options.bodyLimit, 16 * 1024, 2),
  };
}

export type AdminMatch = { route: AdminRouteName; params: Record<string, string> } | { allow: string[] };

/** Matches a method and a path relative to the mount point (no query string). */
export function matchAdminRoute(method: string, path: string): AdminMatch | undefined {
  const segments = path.split('/').filter((segment) => segment !== '');
  const allow: string[] = [];
  for (const route of adminRoutes) {
    const pattern = route.path.split('/').filter((segment) => segment !== '');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let matches = true;
    for (const [index, part] of pattern.entries()) {
      const segment = segments[index]!;
      if (part.startsWith(':')) {
        let decoded: string;
        try {
          decoded = decodeURIComponent(segment);
        } catch {
          matches = false;
          break;
        }
        params[part.slice(1)] = decoded;
      } else if (part !== segment) {
        matches = false;
        break;
      }
    }
    if (!matches) continue;
    // HEAD is GET without a body (RFC 9110 §9.3.2); Node drops the body itself.
    if (method === route.method || (method === 'HEAD' && route.method === 'GET')) return { route: route.name, params };
    allow.push(route.method === 'GET' ? 'GET, HEAD' : route.method);
  }
  return allow.length > 0 ? { allow } : undefined;
}

export interface AdminRequest<Target> {
  match: AdminMatch;
  /** What `authorize` is called with (Express: req; Koa: ctx). */
  target: Target;
  headers: IncomingHttpHeaders;
  /** The drainer the drain middleware gave the request, used when the options name none. */
  drainer: Drainer | undefined;
  /** A body a framework body parser already produced (`req.body`, `ctx.request.body`). */
  parsedBody: unknown;
  /** The request stream, read when no parser consumed it. */
  stream: AsyncIterable<unknown> & { readableEnded?: boolean };
}

/**
 * Authorizes, validates and runs one admin request. Bad input is a 4xx reply,
 * never a throw; what throws is a server-side fault (authorize threw, or no
 * drainer is attached), which the adapter hands to the framework's error handling.
 */
export async function handleAdminRequest<Target>(options: ResolvedAdminOptions<Target>, request: AdminRequest<Target>): Promise<HttpReply> {
  const denied = await authorizeRequest(options, request);
  if (denied) return denied;
  if ('allow' in request.match) {
    return jsonReply(405, { code: 'ERR_ADMIN_METHOD_NOT_ALLOWED', message: 'Method not allowed' }, { allow: request.match.allow.join(', ') });
  }
  const drainer = options.drainer ?? request.drainer;
  if (!drainer) throw notAttachedError('adminRouter');
  const { route, params } = request.match;
  try {
    const body = isPost(route) ? await readJsonObject(request, options.bodyLimit) : {};
    return await runRoute(drainer, route, params, body);
  } catch (error) {
    if (error instanceof AdminInputError) return jsonReply(error.status, { code: error.code, message: error.message });
    if (isDrainError(error)) {
      const status = DRAIN_ERROR_STATUS[error.code];
      if (status !== undefined) return jsonReply(status, { code: error.code, message: error.message });
    }
    throw error;
  }
}

const DRAIN_ERROR_STATUS: Partial<Record<string, number>> = {
  [DrainErrorCodes.INVALID_OPTION]: 400,
  [DrainErrorCodes.INVALID_ARGUMENT]: 400,
  [DrainErrorCodes.UNKNOWN_CONNECTION]: 404,
  [DrainErrorCodes.DISPOSED]: 409,
};

async function authorizeRequest<Target>(options: ResolvedAdminOptions<Target>, request: AdminRequest<Target>): Promise<HttpReply | undefined> {
  const verdict: unknown = await options.authorize(request.target);
  if (verdict === true) return undefined;
  const hasCredentials = request.headers.authorization !== undefined || request.headers.cookie !== undefined;
  if (verdict === 'unauthenticated' || (verdict === false && !hasCredentials)) {
    return jsonReply(401, { code: 'ERR_ADMIN_UNAUTHENTICATED', message: 'Authentication required' }, { 'www-authenticate': options.challenge });
  }
  if (verdict === false || verdict === 'forbidden') {
    return jsonReply(403, { code: 'ERR_ADMIN_FORBIDDEN', message: 'Not allowed' });
  }
  throw new DrainError(
    DrainErrorCodes.INVALID_ARGUMENT,
    `adminRouter: authorize() must return true, false, "unauthenticated" or "forbidden", got ${describeValue(verdict)}`,
  );
}

function isPost(route: AdminRouteName): boolean {
  return route === 'drainConnection' || route === 'drain' || route === 'shutdown';
}

async function runRoute(drainer: Drainer, route: AdminRouteName, params: Record<string, string>, body: Record<string, unknown>): Promise<HttpReply> {
  switch (route) {
    case 'page':
      return adminPageReply();
    case 'connections':
      return jsonReply(200, { now: Date.now(), connections: drainer.connections().map((connection) => connection.toJSON()) });
    case 'stats':
      return jsonReply(200, drainer.stats());
    case 'drainConnection': {
      const id = params.id ?? '';
      if (!drainer.get(id)) throw new DrainError(DrainErrorCodes.UNKNOWN_CONNECTION, `No open connection with id ${JSON.stringify(id)}`);
      await launch(drainer, drainer.drainConnection(id, { reason: 'admin', ...body }));
      return jsonReply(202, { draining: [id] });
    }
    case 'drain': {
      const filter = filterFromBody(body);
      const options: Record<string, unknown> = { reason: 'admin' };
      for (const key of DRAIN_OPTION_KEYS) if (body[key] !== undefined) options[key] = body[key];
      // The reply names exactly the connections this drain covers.
      const ids = new Set(drainer.connections(filter).map((connection) => connection.id));
      await launch(
        drainer,
        drainer.drain((connection) => ids.has(connection.id), options),
      );
      return jsonReply(202, { draining: [...ids] });
    }
    case 'shutdown':
      await launch(drainer, drainer.shutdown({ reason: 'admin', ...body }));
      return jsonReply(202, { state: drainer.state });
  }
}

/**
 * Starts a drain without waiting for it: the admin request itself may be on a
 * connection being drained, which closes only after this reply. Core rejects
 * bad input with an already rejected promise; racing it against a resolved one
 * surfaces exactly that case here, so core stays the one place that validates.
 */
async function launch(drainer: Drainer, operation: Promise<unknown>): Promise<void> {
  await Promise.race([operation, Promise.resolve()]);
  operation.catch((error: unknown) => drainer.settings.logger?.error({ err: error }, 'drainkit: drain started from the admin API failed'));
}

const FILTER_KEYS = ['ids', 'protocol', 'state', 'remoteAddress', 'secure', 'minAgeMs', 'maxAgeMs', 'minRequestsServed'] as const;
const DRAIN_OPTION_KEYS = ['timeoutMs', 'concurrency', 'spreadMs', 'reason'] as const;
const PROTOCOLS = ['http/1.1', 'h2', 'upgraded'];
const STATES = ['idle', 'active', 'draining'];

/** The connection filter of POST /drain; an empty body selects every connection. */
function filterFromBody(body: Record<string, unknown>): ConnectionFilter {
  checkKnownKeys('drain body', body, [...FILTER_KEYS, ...DRAIN_OPTION_KEYS]);
  const tests: ConnectionFilter[] = [];
  const ids = stringList('ids', body.ids);
  if (ids) tests.push((c) => ids.includes(c.id));
  const protocols = stringList('protocol', body.protocol, PROTOCOLS);
  if (protocols) tests.push((c) => protocols.includes(c.protocol));
  const states = stringList('state', body.state, STATES);
  if (states) tests.push((c) => states.includes(c.state));
  const addresses = stringList('remoteAddress', body.remoteAddress)?.map(plainAddress);
  if (addresses) tests.push((c) => c.remoteAddress !== undefined && addresses.includes(plainAddress(c.remoteAddress)));
  if (body.secure !== undefined) {
    if (typeof body.secure !== 'boolean') throw invalidOption('secure', body.secure, 'true or false');
    const secure = body.secure;
    tests.push((c) => c.secure === secure);
  }
  const minAge = body.minAgeMs === undefined ? undefined : durationOption('minAgeMs', body.minAgeMs, 0);
  if (minAge !== undefined) tests.push((c) => Date.now() - c.openedAt >= minAge);
  const maxAge = body.maxAgeMs === undefined ? undefined : durationOption('maxAgeMs', body.maxAgeMs, 0);
  if (maxAge !== undefined) tests.push((c) => Date.now() - c.openedAt <= maxAge);
  const minRequests = body.minRequestsServed === undefined ? undefined : countOption('minRequestsServed', body.minRequestsServed, 0, 0);
  if (minRequests !== undefined) tests.push((c: ConnectionInfo) => c.requestsServed >= minRequests);
  return (connection) => tests.every((test) => test(connection));
}

/** A string or a non-empty array of strings, each one of `allowed` when given. */
function stringList(name: string, value: unknown, allowed?: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const expected = allowed ? `one of ${allowed.map((v) => JSON.stringify(v)).join(', ')} or an array of them` : 'a string or a non-empty array of strings';
  if (list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '' && (!allowed || allowed.includes(item)))) {
    throw invalidOption(name, value, expected);
  }
  return list as string[];
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; both spellings match. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

class AdminInputError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// application/json or any +json type (RFC 6839 §3.1).
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

async function readJsonObject(request: AdminRequest<unknown>, limit: number): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'];
  // A JSON content type cannot be sent cross-site without a CORS preflight
  // (Fetch standard, CORS-safelisted request-header), so this also keeps forms
  // and no-cors fetches from another site from driving the admin API.
  if (typeof type !== 'string' || !JSON_TYPE.test(type)) {
    throw new AdminInputError(415, 'ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE', 'POST bodies must be Content-Type: application/json (send {} for no options)');
  }
  let value = request.parsedBody;
  if (value === undefined && !request.stream.readableEnded) {
    const declared = Number(request.headers['content-length']);
    if (declared > limit) throw tooLarge(limit);
    const text = await readText(request.stream, limit);
    try {
      value = text.trim() === '' ? {} : (JSON.parse(text) as unknown);
    } catch {
      throw new AdminInputError(400, 'ERR_ADMIN_INVALID_JSON', 'The body is not valid JSON');
    }
  }
  value ??= {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `The body must be a JSON object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

async function readText(stream: AsyncIterable<unknown>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(limit: number): AdminInputError {
  return new AdminInputError(413, 'ERR_ADMIN_BODY_TOO_LARGE', `The body is larger than ${limit} bytes`);
}

function jsonReply(status: number, value: unknown, extraHeaders: Record<string, string> = {}): HttpReply {
  return {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...extraHeaders,
    },
    body: JSON.stringify(value),
  };
}
