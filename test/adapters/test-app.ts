import type http from 'node:http';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import type { AdminVerdict } from '@drainkit/core/adapter';
import { closeServer, deferred } from '../helpers/net.js';

/**
 * The app every adapter suite (test/adapters/*.test.ts) starts, whatever the
 * framework: test/express/app.ts and test/koa/app.ts build it with their own
 * framework's idioms, on 127.0.0.1, with these routes:
 *   GET /fast, GET /slow (waits for release()), GET /info (the request's drain as JSON),
 *   GET /logout (drainAfterResponse), GET /events (SSE ended by the drain signal),
 *   GET /ready (readiness()), /admin (adminRouter), and an error handler that
 *   answers { code, message } with the error's status.
 */
export interface TestApp {
  server: http.Server;
  drainer: Drainer;
  port: number;
  /** Every path that reached the framework's application code at all (the first middleware records it). */
  seen: string[];
  /** Resolves when the next /slow handler has started. */
  slowStarted(): Promise<void>;
  /** Lets every waiting /slow handler answer. */
  release(): void;
  close(): Promise<void>;
}

export const ADMIN_AUTH = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;

/** Reads a request header in the framework's own way (req.get(name), ctx.get(name)). */
export type HeaderReader = (name: string) => string | undefined;

/** An admin `authorize` written once for every framework; each app wraps it in its own signature. */
export type TestAuthorize = (header: HeaderReader) => AdminVerdict | PromiseLike<AdminVerdict>;

export interface TestAppOptions {
  shape?: 'attach' | 'middleware';
  drainerOptions?: DrainerOptions;
  /** Admin router options; `authorize` defaults to Basic admin:s3cret (401 without credentials, 403 with wrong ones). */
  admin?: { authorize?: TestAuthorize; challenge?: string; bodyLimit?: number };
  /** A JSON body parser in front of the admin router (express.json(), or one that sets ctx.request.body). */
  json?: boolean;
  /** Leave the drain middleware out (to test helpers that get { drainer } or nothing). */
  withoutDrainMiddleware?: boolean;
}

/** The test's default authorize: Basic admin:s3cret. */
export const basicAuthorize: TestAuthorize = (header) => header('authorization') === ADMIN_AUTH;

/**
 * The /slow route's gate: handlers wait in enter() until release(); each
 * release() lets the waiting ones through and closes the gate again.
 */
export function slowRoute(): { enter(): Promise<void>; slowStarted(): Promise<void>; release(): void; open(): void } {
  let gate = deferred();
  let startWaiters: Array<() => void> = [];
  return {
    enter() {
      for (const wake of startWaiters.splice(0)) wake();
      return gate.promise;
    },
    slowStarted: () => new Promise<void>((resolve) => startWaiters.push(resolve)),
    release() {
      gate.resolve();
      gate = deferred();
    },
    /** For close(): lets every waiting handler through and forgets the start waiters. */
    open() {
      gate.resolve();
      startWaiters = [];
    },
  };
}

/** The TestApp of a listening app: close() opens the /slow gate, disposes of the drainer and closes the server. */
export function testApp(parts: { server: http.Server; drainer: Drainer; port: number; seen: string[]; slow: ReturnType<typeof slowRoute> }): TestApp {
  const { server, drainer, port, seen, slow } = parts;
  return {
    server,
    drainer,
    port,
    seen,
    slowStarted: slow.slowStarted,
    release: slow.release,
    async close() {
      slow.open();
      drainer.dispose();
      await closeServer(server);
    },
  };
}
