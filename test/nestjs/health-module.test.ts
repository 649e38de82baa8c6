import http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { afterEach, describe, expect, it } from 'vitest';
import { DrainHealthIndicator, DrainModule, DrainService, isDrainError } from '@drainkit/nestjs';

// @nestjs/terminus' own layout: a HealthModule that imports TerminusModule, has the
// health controller, and lists the indicator in its providers; DrainModule.forRoot()
// (not global) sits in AppModule.
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly drainHealth: DrainHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.drainHealth.isReady('drain')]);
  }
}

@Module({ imports: [TerminusModule.forRoot({ logger: false })], controllers: [HealthController], providers: [DrainHealthIndicator] })
class HealthModule {}

@Module({ imports: [DrainModule.forRoot({ timeoutMs: 2_000 }), HealthModule] })
class AppModule {}

@Module({ imports: [HealthModule] })
class AppWithoutDrainModule {}

function get(port: number, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
      })
      .on('error', reject);
  });
}

describe('DrainHealthIndicator in a HealthModule of its own (terminus layout, no isGlobal)', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('boots, answers 200 while serving and 503 once shutdown has started', async () => {
    app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: false, abortOnError: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    expect(await get(port, '/health')).toMatchObject({ status: 200, body: { status: 'ok', info: { drain: { status: 'up', state: 'serving' } } } });
    // The indicator in HealthModule reads the application's one DrainService.
    const shutdown = app.get(DrainService).shutdown();
    await expect(app.get(HealthController).check()).rejects.toMatchObject({
      status: 503,
      response: { status: 'error', error: { drain: { status: 'down', state: 'shutting-down' } } },
    });
    await shutdown;
  });

  it('without DrainModule in the application, the boot fails with ERR_DRAIN_NOT_ATTACHED (not a silent "down")', async () => {
    const broken = await NestFactory.create(AppWithoutDrainModule, new ExpressAdapter(), { logger: false, abortOnError: false });
    await expect(broken.init()).rejects.toSatisfy((error) => isDrainError(error, 'ERR_DRAIN_NOT_ATTACHED'));
    await broken.close();
  });
});

// The vitest project 'nest11' runs this file (and the other Nest tests) on Nest 11 from test/nest11.
it(`runs on Nest ${process.env.DRAINKIT_NEST ?? 12}`, async () => {
  const major = process.env.DRAINKIT_NEST ?? '12';
  const require = createRequire(fileURLToPath(new URL(major === '11' ? '../nest11/package.json' : '../../package.json', import.meta.url)));
  expect((require('@nestjs/core/package.json') as { version: string }).version.split('.')[0]).toBe(major);
  // The @nestjs/core these tests import is that one (Nest 12 is ESM, 11 CommonJS: compare the class).
  const expected = (await import(/* @vite-ignore */ pathToFileURL(require.resolve('@nestjs/core')).href)) as { NestFactory: unknown };
  expect(NestFactory).toBe(expected.NestFactory);
});
