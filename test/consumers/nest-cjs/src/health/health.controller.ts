import { Controller, Get } from '@nestjs/common';
import { DrainHealthIndicator } from '@drainkit/nestjs';
import type { DrainHealthResult } from '@drainkit/nestjs';

@Controller('health')
export class HealthController {
  constructor(private readonly drainHealth: DrainHealthIndicator) {}

  @Get()
  check(): DrainHealthResult<'drain'> {
    return this.drainHealth.isReady('drain');
  }
}
