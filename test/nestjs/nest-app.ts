import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Controller, Get, Inject, Injectable, Module, Param, Query, Sse, UseFilters } from '@nestjs/common';
import type { INestApplication, MessageEvent } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { concat, fromEvent, interval, map, of, takeUntil } from 'rxjs';
import type { Observable } from 'rxjs';
import { Conn, DrainAfterResponse, DrainErrorFilter, DrainModule, DrainService, DrainSignal } from '@drainkit/nestjs';
import type { ConnectionInfo, DrainModuleOptions, DrainResult } from '@drainkit/nestjs';
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

  /** Drains another connection, found by id, from inside a request; `?timeout=` is passed on as it comes. */
  @Get('drain/:id')
  drainOther(@Param('id') id: string, @Query('timeout') timeout?: string): Promise<DrainResult> {
    return drainById(this.drain, id, timeout);
  }

  @Get('ready')
  ready(): unknown {
    return this.drain.readiness({ retryAfterSeconds: 7 });
  }

  /** Readiness with the default Retry-After. */
  @Get('ready-default')
  readyDefault(): unknown {
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

function drainById(drain: DrainService, id: string, timeout: string | undefined): Promise<DrainResult> {
  return drain.drainConnection(id, { reason: 'admin', timeoutMs: timeout === undefined ? undefined : Number(timeout) });
}

/** The same drain route with the filter bound to the controller, whatever the application binds. */
@Controller('filtered')
@UseFilters(DrainErrorFilter)
class FilteredController {
  constructor(private readonly drain: DrainService) {}

  @Get('drain/:id')
  drainOther(@Param('id') id: string, @Query('timeout') timeout?: string): Promise<DrainResult> {
    return drainById(this.drain, id, timeout);
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
  /** How DrainErrorFilter is bound application-wide: the module option, `app.useGlobalFilters()`, or not at all (the default). */
  errorFilter?: 'module' | 'global' | 'none';
}

/** A real Nest application on Express or Fastify, listening on 127.0.0.1 at a random port. */
export async function startNestApp(platform: Platform, options: StartOptions = {}): Promise<NestTestApp> {
  const gate = slowGate();

  @Module({
    imports: [DrainModule.forRoot({ timeoutMs: 5_000, ...options.drain, errorFilter: options.errorFilter === 'module' })],
    controllers: [DrainTestController, LeavingController, FilteredController],
    providers: [ConnectionReport, { provide: GATE, useValue: gate }],
  })
  class DrainTestModule {}

  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(DrainTestModule, adapter, {
    logger: false,
    forceCloseConnections: options.forceCloseConnections ?? false,
  });
  if (options.errorFilter === 'global') app.useGlobalFilters(new DrainErrorFilter(app.get(HttpAdapterHost)));
  // Fastify binds one server per address a host name resolves to; a literal address keeps it to one.
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const port = (server.address() as AddressInfo).port;
  return { app, port, server, drain: app.get(DrainService), gate };
}
