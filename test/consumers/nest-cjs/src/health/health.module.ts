import { Module } from '@nestjs/common';
import { DrainHealthIndicator } from '@drainkit/nestjs';
import { HealthController } from './health.controller';

// @nestjs/terminus' layout: a HealthModule of its own that lists the indicator in
// its providers, while DrainModule.forRoot() (not global) lives in AppModule.
@Module({
  controllers: [HealthController],
  providers: [DrainHealthIndicator],
})
export class HealthModule {}
