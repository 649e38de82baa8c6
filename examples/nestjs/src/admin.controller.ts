import { Controller, Get, Param, Post, UseGuards } from '@nestjs/common';
import { DrainService } from '@drainkit/nestjs';
import type { ConnectionSnapshot, DrainResult, DrainStats } from '@drainkit/nestjs';
import { AdminGuard } from './admin.guard.js';

/** Operator endpoints: list the open connections, drain one by id. */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(private readonly drain: DrainService) {}

  @Get('connections')
  connections(): { stats: DrainStats; connections: ConnectionSnapshot[] } {
    return { stats: this.drain.stats(), connections: this.drain.connections().map((c) => c.toJSON()) };
  }

  /** An unknown id answers 404 `ERR_DRAIN_UNKNOWN_CONNECTION` (DrainModule's errorFilter). */
  @Post('connections/:id/drain')
  drainOne(@Param('id') id: string): Promise<DrainResult> {
    return this.drain.drainConnection(id, { reason: 'admin' });
  }
}
