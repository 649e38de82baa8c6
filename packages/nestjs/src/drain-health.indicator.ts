import { Injectable } from '@nestjs/common';
import { DrainService } from './drain.service.js';

/** The shape of a `@nestjs/terminus` HealthIndicatorResult, without depending on terminus. */
export type DrainHealthResult<Key extends string = string> = Record<Key, { status: 'up' | 'down'; state: string; connections?: number }>;

/**
 * A readiness indicator for `@nestjs/terminus`: 'up' while serving, 'down' once
 * shutdown has started. Terminus (10.1 and later) counts a returned 'down' as a
 * failure and answers 503, so terminus stays an optional dependency:
 *
 *   @Get('ready') @HealthCheck()
 *   ready() { return this.health.check([() => this.drainHealth.isReady('drain')]); }
 */
@Injectable()
export class DrainHealthIndicator {
  constructor(private readonly drainService: DrainService) {}

  isReady<Key extends string = 'drain'>(key: Key = 'drain' as Key): DrainHealthResult<Key> {
    const service = this.drainService;
    const up = service.isReady();
    const state = service.attached ? service.state : 'not-attached';
    const detail = up ? { status: 'up' as const, state, connections: service.stats().open } : { status: 'down' as const, state };
    return { [key]: detail } as DrainHealthResult<Key>;
  }
}
