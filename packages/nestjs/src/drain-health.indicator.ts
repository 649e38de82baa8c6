import { Injectable } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DrainError, DrainErrorCodes } from '@drainkit/core';
import type { HealthCheckResult } from '@drainkit/core';
import { DrainService } from './drain.service.js';

/** The shape of a `@nestjs/terminus` HealthIndicatorResult, without depending on terminus. */
export type DrainHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down'; state: string; connections?: number; checks?: Record<string, HealthCheckResult> }
>;

/**
 * A readiness indicator for `@nestjs/terminus`: 'up' while serving, 'down' once
 * shutdown has started. Terminus (10.1 and later) counts a returned 'down' as a
 * failure and answers 503, so terminus stays an optional dependency:
 *
 *   @Get('ready') @HealthCheck()
 *   ready() { return this.health.check([() => this.drainHealth.check('drain')]); }
 *
 * DrainModule exports it; it can also be listed in the `providers` of a module of
 * its own (terminus' layout: a HealthModule with `providers: [DrainHealthIndicator]`)
 * without `isGlobal: true`: it finds the application's DrainService through
 * ModuleRef (non-strict) at module init, and fails the boot with
 * ERR_DRAIN_NOT_ATTACHED if there is none.
 */
@Injectable()
export class DrainHealthIndicator implements OnModuleInit {
  private service: DrainService | undefined;

  constructor(private readonly moduleRef: ModuleRef) {}

  onModuleInit(): void {
    this.service = this.findService();
  }

  /** Serving or not, without running the health checks. */
  isReady<Key extends string = 'drain'>(key: Key = 'drain' as Key): DrainHealthResult<Key> {
    const service = (this.service ??= this.findService());
    const up = service.isReady();
    const state = service.attached ? service.state : 'not-attached';
    const detail = up ? { status: 'up' as const, state, connections: service.stats().open } : { status: 'down' as const, state };
    return { [key]: detail } as DrainHealthResult<Key>;
  }

  /**
   * Serving, and every critical `drainer.healthCheck()` up (the checks run,
   * cached as in the other adapters' readiness handlers; each is listed under `checks`).
   */
  async check<Key extends string = 'drain'>(key: Key = 'drain' as Key): Promise<DrainHealthResult<Key>> {
    const base = this.isReady(key);
    const service = (this.service ??= this.findService());
    if (base[key].status === 'down' || service.drainer.healthCheckCount === 0) return base;
    const report = await service.drainer.checkHealth();
    const detail = { ...base[key], status: report.healthy ? ('up' as const) : ('down' as const), checks: report.checks };
    return { [key]: detail } as DrainHealthResult<Key>;
  }

  private findService(): DrainService {
    try {
      return this.moduleRef.get(DrainService, { strict: false });
    } catch {
      throw new DrainError(
        DrainErrorCodes.NOT_ATTACHED,
        'DrainHealthIndicator found no DrainService: import DrainModule.forRoot() or forRootAsync() in the application (e.g. in AppModule)',
      );
    }
  }
}
