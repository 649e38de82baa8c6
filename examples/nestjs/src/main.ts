import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DrainService } from '@drainkit/nestjs';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule, { logger: ['log', 'warn', 'error'] });
// SIGTERM / SIGINT run app.close(): DrainModule drains every connection before Nest closes the server.
app.enableShutdownHooks();

const logger = new Logger('drainkit-example');
app.get(DrainService).on('shutdown:phase', ({ phase, report }) => {
  logger.log(report ? `shutdown: ${phase} (${report.closed} closed, ${report.forced} forced)` : `shutdown: ${phase}`);
});

await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
const { port } = app.getHttpServer().address() as AddressInfo;
// One machine-readable line, for the test that starts this example.
console.log(JSON.stringify({ listening: `http://127.0.0.1:${port}`, port, pid: process.pid }));
