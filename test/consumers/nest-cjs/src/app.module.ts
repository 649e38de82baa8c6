import { Module } from '@nestjs/common';
import { DrainModule } from '@drainkit/nestjs';
import { AppController } from './app.controller';
import { HealthModule } from './health/health.module';

@Module({
  imports: [DrainModule.forRoot({ timeoutMs: 10_000 }), HealthModule],
  controllers: [AppController],
})
export class AppModule {}
