import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { DrainHealthIndicator } from './drain-health.indicator.js';
import { DrainInterceptor } from './drain.interceptor.js';
import { DrainService } from './drain.service.js';
import { ConfigurableDrainModule } from './options.js';

/**
 * `DrainModule.forRoot(options)` or `DrainModule.forRootAsync({ imports, inject,
 * useFactory | useClass | useExisting })`, once per application (`isGlobal: true`
 * makes DrainService injectable everywhere). Attaches a drainer to the
 * application's HTTP server and drains it on shutdown.
 */
@Module({
  providers: [DrainService, DrainHealthIndicator, { provide: APP_INTERCEPTOR, useClass: DrainInterceptor }],
  exports: [DrainService, DrainHealthIndicator],
})
export class DrainModule extends ConfigurableDrainModule {}
