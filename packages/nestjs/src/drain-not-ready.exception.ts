import { ServiceUnavailableException } from '@nestjs/common';

/** The 503 body of the readiness route, the same as core's readinessReply() gives Express and Koa. */
export interface DrainNotReadyBody {
  ready: false;
  state: string;
}

/**
 * Thrown by `DrainService.readiness()` once shutdown has started (or before the
 * drainer is attached). A 503 `ServiceUnavailableException` that also carries the
 * headers of the answer: DrainModule's interceptor puts them on the response,
 * whichever exception filter then writes it (Nest's default one included).
 */
export class DrainNotReadyException extends ServiceUnavailableException {
  /** `Retry-After` (RFC 9110 §10.2.3) and `Cache-Control: no-store` (a cached "not ready" would mislead the probe). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly state: string,
    readonly retryAfterSeconds: number,
  ) {
    super({ ready: false, state } satisfies DrainNotReadyBody);
    this.headers = { 'Retry-After': String(retryAfterSeconds), 'Cache-Control': 'no-store' };
  }
}
