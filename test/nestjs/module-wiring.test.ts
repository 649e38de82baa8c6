import { Injectable, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { isDrainError } from '@drainkit/core';
import { DRAIN_MODULE_OPTIONS, DrainHealthIndicator, DrainModule, DrainService } from '@drainkit/nestjs';
import type { DrainModuleOptions, DrainOptionsFactory } from '@drainkit/nestjs';
import { ConnectionReport } from './nest-app.js';

/** A stand-in for a config module: the async options come from an injected provider. */
@Injectable()
class SettingsService {
  readonly drainTimeoutMs = 1_234;
}

@Module({ providers: [SettingsService], exports: [SettingsService] })
class SettingsModule {}

@Injectable()
class DrainSettingsFactory implements DrainOptionsFactory {
  constructor(private readonly settings: SettingsService) {}

  createDrainOptions(): DrainModuleOptions {
    return { timeoutMs: this.settings.drainTimeoutMs, idleGraceMs: 5 };
  }
}

/** Needs DrainService without importing DrainModule: resolvable only when the module is global. */
@Module({ providers: [ConnectionReport], exports: [ConnectionReport] })
class FeatureModule {}

describe('DrainModule wiring (Test.createTestingModule)', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('forRoot() provides DrainService and the options under the namespaced token', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ timeoutMs: 2_500, isGlobal: false })] }).compile();
    expect(moduleRef.get(DRAIN_MODULE_OPTIONS)).toEqual({ timeoutMs: 2_500 }); // `isGlobal` is an extra, not a drainer option
    expect(typeof DRAIN_MODULE_OPTIONS).toBe('symbol');
    expect(moduleRef.get(DrainService)).toBeInstanceOf(DrainService);
    expect(moduleRef.get(DrainHealthIndicator)).toBeInstanceOf(DrainHealthIndicator);
    await moduleRef.close();
  });

  it('injects by class type without @Inject (design:paramtypes survives the test transform)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DrainModule.forRoot({})],
      providers: [ConnectionReport],
    }).compile();
    const report = moduleRef.get(ConnectionReport);
    expect(Reflect.getMetadata('design:paramtypes', ConnectionReport)).toEqual([DrainService]);
    expect(report.drain).toBe(moduleRef.get(DrainService));
    await moduleRef.close();
  });

  it('forRootAsync() with useFactory and inject', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        DrainModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SettingsService],
          useFactory: (settings: SettingsService) => ({ timeoutMs: settings.drainTimeoutMs }),
        }),
      ],
    }).compile();
    expect(moduleRef.get(DRAIN_MODULE_OPTIONS)).toEqual({ timeoutMs: 1_234 });
    await moduleRef.close();
  });

  it('forRootAsync() with useClass', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DrainModule.forRootAsync({ imports: [SettingsModule], useClass: DrainSettingsFactory })],
    }).compile();
    expect(moduleRef.get(DRAIN_MODULE_OPTIONS)).toEqual({ timeoutMs: 1_234, idleGraceMs: 5 });
    await moduleRef.close();
  });

  it('isGlobal: true makes DrainService injectable in modules that do not import DrainModule', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ isGlobal: true }), FeatureModule] }).compile();
    expect(moduleRef.get(ConnectionReport).drain).toBe(moduleRef.get(DrainService));
    await moduleRef.close();
  });

  it('without isGlobal, a module that does not import DrainModule cannot resolve DrainService', async () => {
    await expect(Test.createTestingModule({ imports: [DrainModule.forRoot({}), FeatureModule] }).compile()).rejects.toThrow(/DrainService/);
  });

  it('without an HTTP server the service says so with ERR_DRAIN_NOT_ATTACHED', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({})] }).compile();
    await moduleRef.init();
    const service = moduleRef.get(DrainService);
    expect(service.attached).toBe(false);
    expect(service.isReady()).toBe(false);
    expect(() => service.connections()).toThrow(expect.objectContaining({ code: 'ERR_DRAIN_NOT_ATTACHED' }));
    await expect(service.drainConnection('1')).rejects.toSatisfy((error) => isDrainError(error, 'ERR_DRAIN_NOT_ATTACHED'));
    expect(moduleRef.get(DrainHealthIndicator).isReady()).toEqual({ drain: { status: 'down', state: 'not-attached' } });
    await moduleRef.close(); // no server: shutdown is a no-op, not an error
  });

  it('attaches to the HTTP server on init and reports health up, then down after close', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ timeoutMs: 1_000 })] }).compile();
    app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    const service = app.get(DrainService);
    const phases: string[] = [];
    service.on('shutdown:phase', (event) => phases.push(event.phase)); // registered before the drainer exists
    await app.init();
    expect(service.drainer.server).toBe(app.getHttpServer());
    const health = app.get(DrainHealthIndicator);
    expect(health.isReady('http-drain')).toEqual({ 'http-drain': { status: 'up', state: 'serving', connections: 0 } });
    await app.close();
    app = undefined;
    expect(phases).toEqual(['readiness-failed', 'listener-closed', 'drained', 'cleanup-done', 'sockets-closed']);
    expect(health.isReady()).toEqual({ drain: { status: 'down', state: 'closed' } });
  });

  it('DrainHealthIndicator works with @nestjs/terminus: ok while serving, 503 once shutdown has started', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ timeoutMs: 1_000 }), TerminusModule.forRoot({ logger: false })] }).compile();
    app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    await app.init();
    const health = app.get(HealthCheckService);
    const indicator = app.get(DrainHealthIndicator);
    expect(await health.check([() => indicator.isReady()])).toMatchObject({ status: 'ok', info: { drain: { status: 'up' } } });
    const shutdown = app.get(DrainService).shutdown();
    // Liveness stays up while the shutdown runs.
    expect(app.get(DrainService).liveness()).toEqual({ alive: true, state: 'shutting-down' });
    await expect(health.check([() => indicator.isReady()])).rejects.toMatchObject({
      status: 503,
      response: { status: 'error', error: { drain: { status: 'down', state: 'shutting-down' } } },
    });
    await shutdown;
  });

  it('DrainHealthIndicator.check() runs the drainer health checks: a failing critical one is a terminus 503 while serving', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ timeoutMs: 1_000 }), TerminusModule.forRoot({ logger: false })] }).compile();
    app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    await app.init();
    let dbUp = true;
    app.get(DrainService).drainer.healthCheck('db', () => {
      if (!dbUp) throw new Error('db unreachable');
    }, { cacheMs: 0 });
    const health = app.get(HealthCheckService);
    const indicator = app.get(DrainHealthIndicator);
    expect(await health.check([() => indicator.check()])).toMatchObject({ status: 'ok', info: { drain: { status: 'up', checks: { db: { status: 'up' } } } } });
    dbUp = false;
    await expect(health.check([() => indicator.check()])).rejects.toMatchObject({
      status: 503,
      response: { error: { drain: { status: 'down', state: 'serving', checks: { db: { status: 'down', error: 'db unreachable' } } } } },
    });
  });

  it('bad drainer options fail app.init() with ERR_DRAIN_INVALID_OPTION', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DrainModule.forRoot({ timeoutMs: -1 })] }).compile();
    const broken = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    await expect(broken.init()).rejects.toSatisfy((error) => isDrainError(error, 'ERR_DRAIN_INVALID_OPTION'));
    await broken.close();
  });
});
