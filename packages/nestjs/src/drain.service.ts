import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createDrainer, DrainError, DrainErrorCodes } from '@drainkit/core';
import { assertDrainerEventName, resolveReadinessOptions } from '@drainkit/core/adapter';
import type {
  ConnectionFilter,
  ConnectionInfo,
  DrainConnectionOptions,
  Drainer,
  DrainerEventName,
  DrainerListener,
  DrainerState,
  DrainOptions,
  DrainReport,
  DrainResult,
  DrainStats,
  ShutdownOptions,
} from '@drainkit/core';
import net from 'node:net';
import type { Subscription } from 'rxjs';
import { DrainNotReadyException } from './drain-not-ready.exception.js';
import { DRAIN_MODULE_OPTIONS } from './options.js';
import type { DrainModuleOptions } from './options.js';
import { rawRequest } from './raw-request.js';

/** What `DrainService.readiness()` answers while the application serves. */
export interface DrainReadiness {
  ready: true;
  state: DrainerState;
  connections: number;
}

/** Options of `DrainService.readiness()`. */
export interface DrainReadinessOptions {
  /** `Retry-After` of the 503 answer, in seconds (a whole number ≥ 0). Default 5, as in the Express and Koa adapters. */
  retryAfterSeconds?: number;
}

interface PendingListener {
  event: DrainerEventName;
  listener: (payload: never) => void;
  once: boolean;
}

/**
 * The application's drainer, as an injectable service. The module attaches it
 * to the HTTP server Nest created (Express or Fastify) when the application
 * bootstraps, and drains every connection in `beforeApplicationShutdown`, so
 * `app.close()` resolves only once the last connection is gone or forced.
 */
@Injectable()
export class DrainService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DrainService');
  private attachedDrainer: Drainer | undefined = undefined;
  private pendingListeners: PendingListener[] = [];
  private listenSubscription: Subscription | undefined = undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(DRAIN_MODULE_OPTIONS) private readonly options: DrainModuleOptions,
  ) {}

  // ------------------------------------------------------------- lifecycle

  /** @internal Nest lifecycle: attach once the HTTP server exists (before `listen()` accepts anything). */
  onApplicationBootstrap(): void {
    if (this.attachedDrainer) return;
    const adapter = this.adapterHost.httpAdapter as HttpAdapterHost['httpAdapter'] | undefined;
    // An application context (no HTTP) has no adapter: nothing to drain.
    if (!adapter) return;
    if (this.attachTo(adapter.getHttpServer())) return;
    // A custom adapter may create its server in listen(): attach when it listens.
    this.listenSubscription = this.adapterHost.listen$.subscribe(() => {
      this.listenSubscription?.unsubscribe();
      this.listenSubscription = undefined;
      if (!this.attachedDrainer && !this.attachTo(adapter.getHttpServer())) {
        this.logger.warn('The HTTP adapter exposes no net.Server; connections are not tracked');
      }
    });
  }

  /**
   * @internal Nest lifecycle: runs before Nest closes the HTTP server. Readiness
   * fails at once, idle connections close, in-flight requests finish (or are
   * forced at `timeoutMs`), then Nest's own close finds nothing left.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.listenSubscription?.unsubscribe();
    this.listenSubscription = undefined;
    const drainer = this.attachedDrainer;
    if (!drainer || drainer.state === 'closed') return;
    await drainer.shutdown({ reason: signal ?? 'application-shutdown' });
  }

  private attachTo(server: unknown): boolean {
    if (!(server instanceof net.Server)) return false;
    const drainer = createDrainer(server, this.options);
    for (const { event, listener, once } of this.pendingListeners) {
      if (once) drainer.once(event, listener as DrainerListener<typeof event>);
      else drainer.on(event, listener as DrainerListener<typeof event>);
    }
    this.pendingListeners = [];
    this.attachedDrainer = drainer;
    return true;
  }

  // ------------------------------------------------------------- public API

  /** True once the module has attached a drainer to the application's HTTP server. */
  get attached(): boolean {
    return this.attachedDrainer !== undefined;
  }

  /** The core drainer, for what this service does not wrap (`onShutdown`, `onUpgradedDrain`, `dispose`). */
  get drainer(): Drainer {
    if (!this.attachedDrainer) {
      throw new DrainError(
        DrainErrorCodes.NOT_ATTACHED,
        'DrainService has no drainer yet: it attaches to the HTTP server when the application bootstraps (app.init() or app.listen()); an application context without HTTP has none',
      );
    }
    return this.attachedDrainer;
  }

  get state(): DrainerState {
    return this.drainer.state;
  }

  /** False before the drainer is attached and once shutdown has started. */
  isReady(): boolean {
    return this.attachedDrainer?.isReady() ?? false;
  }

  connections(filter?: ConnectionFilter): ConnectionInfo[] {
    return this.drainer.connections(filter);
  }

  get(id: string): ConnectionInfo | undefined {
    return this.drainer.get(id);
  }

  /** The connection a request (Express or Fastify request, or the Node request) arrived on. */
  connectionOf(request: unknown): ConnectionInfo | undefined {
    return this.drainer.connectionOf(rawRequest(request));
  }

  /** Aborts when the request's connection starts draining or the application starts shutting down. */
  signalFor(request: unknown): AbortSignal {
    return this.drainer.signalFor(rawRequest(request));
  }

  /** Closes the request's connection gracefully once its current response is sent. */
  drainAfterResponse(request: unknown, options?: DrainConnectionOptions): Promise<DrainResult> {
    try {
      return this.drainer.drainAfterResponse(rawRequest(request), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  drainConnection(id: string, options?: DrainConnectionOptions): Promise<DrainResult> {
    try {
      return this.drainer.drainConnection(id, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  drain(filter?: ConnectionFilter, options?: DrainOptions): Promise<DrainReport> {
    try {
      return this.drainer.drain(filter, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Shuts the drainer down by hand; `app.close()` later reuses the same run. Nest's own close still has to run. */
  shutdown(options?: ShutdownOptions): Promise<DrainReport> {
    try {
      return this.drainer.shutdown(options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  stats(): DrainStats {
    return this.drainer.stats();
  }

  /**
   * For a readiness route: the current state while serving; once shutdown has
   * started (or before the drainer is attached) a 503 `DrainNotReadyException`
   * with `{ ready: false, state }`, answered with `Retry-After` (the module's
   * interceptor sets it) so a load balancer backs off before the listener closes.
   */
  readiness(options?: DrainReadinessOptions): DrainReadiness {
    // Core's validation of the same option, so a bad value fails the same way everywhere.
    const { retryAfterSeconds } = resolveReadinessOptions(readinessOptionsOnly(options));
    const drainer = this.attachedDrainer;
    if (!drainer || !drainer.isReady()) {
      throw new DrainNotReadyException(drainer?.state ?? 'not-attached', retryAfterSeconds);
    }
    return { ready: true, state: drainer.state, connections: drainer.stats().open };
  }

  /**
   * For a liveness route: `{ alive: true, state }` for as long as the process
   * answers, during a graceful shutdown too, so the kubelet does not kill a draining pod.
   */
  liveness(): { alive: true; state: DrainerState | 'not-attached' } {
    return { alive: true, state: this.attachedDrainer?.state ?? 'not-attached' };
  }

  // ------------------------------------------------------------- typed events

  /** Listens to a drainer event; listeners added before the drainer is attached are kept until it is. */
  on<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this {
    // Checked here too: before the drainer exists the listener waits in a list, where a typo would go unnoticed.
    assertDrainerEventName('DrainService.on', event);
    if (this.attachedDrainer) this.attachedDrainer.on(event, listener);
    else this.pendingListeners.push({ event, listener: listener as PendingListener['listener'], once: false });
    return this;
  }

  once<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this {
    assertDrainerEventName('DrainService.once', event);
    if (this.attachedDrainer) this.attachedDrainer.once(event, listener);
    else this.pendingListeners.push({ event, listener: listener as PendingListener['listener'], once: true });
    return this;
  }

  off<E extends DrainerEventName>(event: E, listener: DrainerListener<E>): this {
    assertDrainerEventName('DrainService.off', event);
    if (this.attachedDrainer) this.attachedDrainer.off(event, listener);
    else this.pendingListeners = this.pendingListeners.filter((p) => p.event !== event || p.listener !== listener);
    return this;
  }
}

/** Core's readiness options also take `drainer`, which has no meaning here: refuse it as an unknown option. */
function readinessOptionsOnly(options: unknown): unknown {
  if (options !== null && typeof options === 'object' && 'drainer' in options) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'Unknown option "drainer" in readiness options; known options: retryAfterSeconds');
  }
  return options;
}
