import { Controller, Get, Header, ParseIntPipe, Query, Sse } from '@nestjs/common';
import type { MessageEvent } from '@nestjs/common';
import { Conn, DrainAfterResponse, DrainService, DrainSignal } from '@drainkit/nestjs';
import type { ConnectionInfo } from '@drainkit/nestjs';
import { concat, fromEvent, interval, map, of, takeUntil } from 'rxjs';
import type { Observable } from 'rxjs';

@Controller()
export class AppController {
  constructor(private readonly drain: DrainService) {}

  /** A slow request: a shutdown lets it finish before the process exits. */
  @Get('slow')
  async slow(@Query('ms', new ParseIntPipe({ optional: true })) ms = 2_000): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return `slow done after ${ms} ms`;
  }

  /** Server-sent events that end cleanly (a last "drain" event) when a drain or shutdown starts. */
  @Sse('events')
  events(@DrainSignal() signal: AbortSignal): Observable<MessageEvent> {
    const drainStarted = signal.aborted ? of(null) : fromEvent(signal, 'abort');
    const ticks = interval(500).pipe(
      map((i): MessageEvent => ({ data: { tick: i } })),
      takeUntil(drainStarted),
    );
    return concat(ticks, of<MessageEvent>({ type: 'drain', data: 'server is draining, reconnect' }));
  }

  /** After this response the connection is closed gracefully; other connections stay. */
  @Get('bye')
  @DrainAfterResponse()
  bye(@Conn() connection: ConnectionInfo): string {
    return `bye from connection ${connection.id}`;
  }

  /** Readiness probe: 200 while serving, 503 with `Retry-After: 5` once shutdown has started. */
  @Get('ready')
  @Header('Cache-Control', 'no-store')
  ready(): unknown {
    return this.drain.readiness({ retryAfterSeconds: 5 });
  }
}
