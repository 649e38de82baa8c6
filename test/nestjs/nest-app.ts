import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Controller, Get, Inject, Injectable, Module, Param, Sse } from '@nestjs/common';
import type { INestApplication, MessageEvent } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { ConnectionInfo, DrainResult } from '@drainkit/core';
import { concat, fromEvent, interval, map, of, takeUntil } from 'rxjs';
import type { Observable } from 'rxjs';
import { Conn, DrainAfterResponse, DrainModule, DrainService, DrainSignal } from '@drainkit/nestjs';
import type { DrainModuleOptions } from '@drainkit/nestjs';
import { slowGate } from '../helpers/server-kinds.js';

export type Platform = 'express' | 'fastify';
export const platforms: Platform[] = ['express', 'fastify'];

export type Gate = ReturnType<typeof slowGate>;
const GATE = Symbol('gate');

/**
 * Injected by class type, without @Inject: resolving it proves the test
 * transform keeps `design:paramtypes` (Nest reads constructor types from it).
 */
@Injectable()
export class ConnectionReport {
  constructor(readonly drain: DrainService) {}

  open(): number {
    return this.drain.stats().open;
  }
}

@Controller()
class DrainTestController {
  constructor(
    private readonly drain: DrainService,
    private readonly report: ConnectionReport,
    @Inject(GATE) private readonly gate: Gate,
  ) {}

  @Get('fast')
  fast(): string {
    this.gate.calls.push('/fast');
    return 'fast';
  }

  @Get('slow')
  async slow(): Promise<string> {
    await this.gate.enterSlow('/slow');
    return 'slow done';
  }

  @Get('bye')
  @DrainAfterResponse()
  bye(): string {
    return 'bye';
  }

  @Get('conn')
  conn(@Conn() connection: ConnectionInfo): { id: string; open: number } {
    return { id: connection.id, open: this.report.open() };
  }

  /** Drains another connection, found by id, from inside a request. */
  @Get('drain/:id')
  drainOther(@Param('id') id: string): Promise<DrainResult> {
    return this.drain.drainConnection(id, { reason: 'admin' });
  }

  @Get('ready')
  ready(): unknown {
    return this.drain.readiness();
  }

  /** Ticks until a drain starts, then says goodbye and completes, which ends the response. */
  @Sse('events')
  events(@DrainSignal() signal: AbortSignal): Observable<MessageEvent> {
    const drainStarted = signal.aborted ? of(null) : fromEvent(signal, 'abort');
    const ticks = interval(20).pipe(
      map((i): MessageEvent => ({ data: `tick ${i}` })),
      takeUntil(drainStarted),
    );
    return concat(ticks, of<MessageEvent>({ type: 'drain', data: 'bye' }));
  }
}

/** `@DrainAfterResponse()` on the class applies to every route of the controller. */
@Controller('leaving')
@DrainAfterResponse()
class LeavingController {
  @Get()
  leave(): string {
    return 'left';
  }
}

export interface NestTestApp {
  app: INestApplication;
  port: number;
  server: Server;
  drain: DrainService;
  gate: Gate;
}

export interface StartOptions {
  drain?: DrainModuleOptions;
  forceCloseConnections?: boolean;
}

/** A real Nest application on Express or Fastify, listening on 127.0.0.1 at a random port. */
export async function startNestApp(platform: Platform, options: StartOptions = {}): Promise<NestTestApp> {
  const gate = slowGate();

  @Module({
    imports: [DrainModule.forRoot({ timeoutMs: 5_000, ...options.drain })],
    controllers: [DrainTestController, LeavingController],
    providers: [ConnectionReport, { provide: GATE, useValue: gate }],
  })
  class DrainTestModule {}

  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(DrainTestModule, adapter, {
    logger: false,
    forceCloseConnections: options.forceCloseConnections ?? false,
  });
  // Fastify binds one server per address a host name resolves to; a literal address keeps it to one.
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const port = (server.address() as AddressInfo).port;
  return { app, port, server, drain: app.get(DrainService), gate };
}
