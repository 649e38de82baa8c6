import http from 'node:http';
import { Controller, Get, Module, Param } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DrainErrorCodes, isDrainError } from '@drainkit/core';
import type { DrainErrorCode, DrainResult } from '@drainkit/core';
import { DRAIN_MODULE_OPTIONS, DrainModule, DrainService, drainErrorStatus } from '@drainkit/nestjs';
import { request } from '../helpers/net.js';
import type { SimpleResponse } from '../helpers/net.js';
import { platforms, startNestApp } from './nest-app.js';
import type { NestTestApp, Platform, StartOptions } from './nest-app.js';

type Wiring = 'module' | 'global' | 'controller';
const wirings: Wiring[] = ['module', 'global', 'controller'];

function json(res: SimpleResponse): unknown {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(res.body);
}

describe.each(platforms)('DrainErrorFilter and readiness headers on %s', (platform: Platform) => {
  let target: NestTestApp | undefined;
  const agents: http.Agent[] = [];

  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    if (target) {
      target.gate.release();
      await target.app.close();
      target = undefined;
    }
  });

  async function start(options?: StartOptions): Promise<NestTestApp> {
    target = await startNestApp(platform, options);
    return target;
  }

  function agent(): http.Agent {
    const created = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(created);
    return created;
  }

  /** The drain route the wiring's filter covers: the controller-bound one lives under /filtered. */
  function drainPath(wiring: Wiring, id: string, query = ''): string {
    return `${wiring === 'controller' ? '/filtered' : ''}/drain/${encodeURIComponent(id)}${query}`;
  }

  /** The id of the connection `client`'s socket is on, from the server's own list. */
  async function connectionIdOf(app: NestTestApp, client: http.Agent): Promise<string> {
    expect((await request(client, app.port, '/fast')).status).toBe(200);
    const [connection] = app.drain.connections();
    expect(app.drain.connections()).toHaveLength(1);
    return connection!.id;
  }

  describe.each(wirings)('bound through %s', (wiring: Wiring) => {
    const startOptions = (): StartOptions => ({ errorFilter: wiring === 'controller' ? 'none' : wiring });

    it('an unknown connection id answers 404 with the DrainError code', async () => {
      const app = await start(startOptions());
      const res = await request(agent(), app.port, drainPath(wiring, 'nope'));
      expect(res.status).toBe(404);
      expect(json(res)).toEqual({
        statusCode: 404,
        code: DrainErrorCodes.UNKNOWN_CONNECTION,
        message: 'No open connection with id "nope"',
      });
    });

    it('a bad timeout answers 400 and leaves the connection alone; a good one drains it', async () => {
      const app = await start(startOptions());
      const victim = agent();
      const id = await connectionIdOf(app, victim);
      const admin = agent();

      const bad = await request(admin, app.port, drainPath(wiring, id, '?timeout=-1'));
      expect(bad.status).toBe(400);
      expect(json(bad)).toMatchObject({ statusCode: 400, code: DrainErrorCodes.INVALID_OPTION, message: expect.stringContaining('"timeoutMs"') });
      expect(app.drain.get(id)).toBeDefined();

      const good = await request(admin, app.port, drainPath(wiring, id, '?timeout=1000'));
      expect(good.status).toBe(200);
      expect(json(good)).toMatchObject({ id, forced: false, reason: 'admin' } satisfies Partial<DrainResult>);
      expect(app.drain.get(id)).toBeUndefined();
    });
  });

  it('without a filter bound, a DrainError stays Nest’s generic 500', async () => {
    const app = await start();
    const res = await request(agent(), app.port, '/drain/nope');
    expect(res.status).toBe(500);
    expect(json(res)).toEqual({ statusCode: 500, message: 'Internal server error' });
  });

  it.each([
    ['without the filter', 'none'],
    ['with the filter', 'module'],
  ] as const)('readiness 503 carries Retry-After and no-store once shutdown starts (%s)', async (_label, errorFilter) => {
    // Long enough for the probes below on a loaded machine: 500 ms once ran out (ECONNREFUSED) at load 7-9 on 2 cores.
    const app = await start({ drain: { shutdownDelayMs: 1_500 }, errorFilter });
    const ok = await request(agent(), app.port, '/ready');
    expect(ok.status).toBe(200);
    expect(ok.headers['retry-after']).toBeUndefined();

    const readinessFailed = new Promise<void>((resolve) => app.drain.once('shutdown:phase', () => resolve()));
    const closing = app.app.close();
    target = undefined;
    await readinessFailed;
    // The listener stays open for shutdownDelayMs: a probe on a new connection still gets an answer.
    const [refused, byDefault, other] = await Promise.all([
      request(agent(), app.port, '/ready'),
      request(agent(), app.port, '/ready-default'),
      request(agent(), app.port, '/fast'),
    ]);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(json(refused)).toEqual({ ready: false, state: 'shutting-down' });
    expect(byDefault.status).toBe(503);
    expect(byDefault.headers['retry-after']).toBe('5'); // the Express and Koa adapters' default
    // A route that is not the readiness one gets no Retry-After from the drain.
    expect(other.headers['retry-after']).toBeUndefined();
    await closing;
  });

  it('readiness() refuses a bad retryAfterSeconds and an option it does not know', async () => {
    const app = await start();
    const failsWith = (code: DrainErrorCode, run: () => unknown): void => {
      let thrown: unknown;
      try {
        run();
      } catch (error) {
        thrown = error;
      }
      expect(isDrainError(thrown, code)).toBe(true);
    };
    failsWith(DrainErrorCodes.INVALID_OPTION, () => app.drain.readiness({ retryAfterSeconds: 1.5 }));
    failsWith(DrainErrorCodes.INVALID_OPTION, () => app.drain.readiness({ retryAfterSeconds: -1 }));
    failsWith(DrainErrorCodes.INVALID_OPTION, () => app.drain.readiness({ drainer: app.drain.drainer } as never));
    failsWith(DrainErrorCodes.INVALID_OPTION, () => app.drain.readiness('soon' as never));
    expect(app.drain.readiness({ retryAfterSeconds: 0 })).toMatchObject({ ready: true });
  });
});

describe('DrainErrorFilter wiring', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('maps every DrainError code to a status', () => {
    const expected: Record<DrainErrorCode, number> = {
      ERR_DRAIN_UNKNOWN_CONNECTION: 404,
      ERR_DRAIN_INVALID_OPTION: 400,
      ERR_DRAIN_INVALID_ARGUMENT: 400,
      ERR_DRAIN_NOT_ATTACHED: 503,
      ERR_DRAIN_DISPOSED: 503,
      ERR_DRAIN_SHUTTING_DOWN: 503,
      ERR_DRAIN_CONNECTION_DRAINING: 503,
      ERR_DRAIN_ALREADY_ATTACHED: 500,
      ERR_DRAIN_NOT_A_SERVER: 500,
      ERR_DRAIN_CLEANUP_FAILED: 500,
      ERR_DRAIN_NOT_IN_CLUSTER: 500,
      ERR_DRAIN_ROLLING_RESTART_FAILED: 500,
      ERR_DRAIN_MISSING_PEER: 500,
    };
    // Every code core defines is in the table above (a new code must be placed on purpose).
    expect(Object.keys(expected).sort()).toEqual(Object.values(DrainErrorCodes).sort());
    for (const [code, status] of Object.entries(expected)) expect([code, drainErrorStatus(code as DrainErrorCode)]).toEqual([code, status]);
  });

  it('errorFilter is a module extra: it never reaches the drainer options, and must be a boolean', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ timeoutMs: 2_500, errorFilter: true })] }).compile();
    expect(moduleRef.get(DRAIN_MODULE_OPTIONS)).toEqual({ timeoutMs: 2_500 });
    await moduleRef.close();
    let thrown: unknown;
    try {
      DrainModule.forRoot({ errorFilter: 'yes' as never });
    } catch (error) {
      thrown = error;
    }
    expect(isDrainError(thrown, DrainErrorCodes.INVALID_OPTION)).toBe(true);
  });

  it.each(platforms)('forRootAsync({ errorFilter: true }) binds the filter too (%s)', async (platform: Platform) => {
    @Controller()
    class AsyncController {
      constructor(private readonly drain: DrainService) {}

      @Get('drain/:id')
      drainOne(@Param('id') id: string): Promise<DrainResult> {
        return this.drain.drainConnection(id);
      }
    }

    @Module({
      imports: [DrainModule.forRootAsync({ errorFilter: true, useFactory: () => ({ timeoutMs: 1_000 }) })],
      controllers: [AsyncController],
    })
    class AsyncModule {}

    app = await NestFactory.create(AsyncModule, platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    const client = new http.Agent({ keepAlive: false });
    try {
      const res = await request(client, port, '/drain/gone');
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ code: DrainErrorCodes.UNKNOWN_CONNECTION });
    } finally {
      client.destroy();
    }
  });
});
