import { Module } from '@nestjs/common';
import { DrainModule } from '@drainkit/nestjs';
import { AdminController } from './admin.controller.js';
import { AdminGuard } from './admin.guard.js';
import { AppController } from './app.controller.js';

@Module({
  imports: [
    DrainModule.forRootAsync({
      isGlobal: true,
      // DrainErrors from handlers answer 404 / 400 / 503 with { statusCode, code, message } instead of a 500.
      errorFilter: true,
      useFactory: () => ({
        timeoutMs: Number(process.env.DRAIN_TIMEOUT_MS ?? 10_000),
        shutdownDelayMs: Number(process.env.SHUTDOWN_DELAY_MS ?? 0),
      }),
    }),
  ],
  controllers: [AppController, AdminController],
  providers: [AdminGuard],
})
export class AppModule {}
