import { DrainError, DrainErrorCodes, createDrainer, isDrainError } from '@drainkit/core';
import type { Drainer, HandleSignalsOptions } from '@drainkit/core';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { extraBindings } from './bindings.js';
import { resolvePluginOptions } from './options.js';
import type { DrainkitOptions } from './options.js';
import { addProbes } from './probes.js';
import { requestDrainGetter } from './request-drain.js';

/**
 * `await app.register(drainkit, options)`: attaches a drainer to `app.server`
 * (before it accepts anything), decorates `app.drainer` and `request.drain`,
 * and makes `app.close()` graceful.
 *
 * Ordering is what keeps Fastify's own close from undercutting the drain.
 * Fastify registers its close step (set `closing`, which answers every later
 * request with 503 when `return503OnClosing` is on; run preClose; close idle or
 * all connections per `forceCloseConnections`; server.close()) as an avvio
 * onClose handler at preReady (fastify.js, Fastify 4.29 and 5.x), and avvio
 * runs onClose handlers last-registered first. The plugin registers its drain
 * from an onReady hook, after that, so it runs first: while it drains Fastify
 * still serves normally, and by the time Fastify's close step runs there is no
 * connection left for it to reset or answer with 503.
 */
async function drainkitPlugin(app: FastifyInstance, options: DrainkitOptions): Promise<void> {
  const { readinessPath, livenessPath, retryAfterSeconds, handleSignals, drainerOptions } = resolvePluginOptions(options);
  if (app.hasDecorator('drainer')) {
    throw new DrainError(DrainErrorCodes.ALREADY_ATTACHED, 'The drainkit plugin is already registered on this Fastify instance');
  }
  // Validates the options and refuses a server that already has a drainer.
  const drainer = createDrainer(app.server, drainerOptions);
  const drainers: Drainer[] = [drainer];
  app.decorate('drainer', drainer);
  app.decorateRequest('drain', { getter: requestDrainGetter(drainers) });
  addProbes(app, drainer, { readinessPath, livenessPath, retryAfterSeconds });

  app.addHook('onListen', async function attachExtraBindings() {
    for (const server of extraBindings(app)) {
      if (!drainers.some((d) => d.server === server)) drainers.push(createDrainer(server, drainerOptions));
    }
  });

  let draining: Promise<void> | undefined;
  const drainAll = (): Promise<void> => (draining ??= shutdownAll(drainers));
  app.addHook('onReady', async function registerDrainOnClose() {
    // avvio's onClose, which Fastify exposes on the instance but does not type; addHook('onClose') is closed after start.
    (app as unknown as AvvioOnClose).onClose((_instance, done) => {
      drainAll().then(() => done(), done);
    });
  });
  // Only does something if the drain above did not run first (an avvio that orders onClose differently).
  app.addHook('preClose', function drainBeforeServerClose(done) {
    drainAll().then(() => done(), done);
  });

  if (handleSignals) installSignals(app, drainer, handleSignals);
}

type AvvioOnClose = { onClose(handler: (instance: unknown, done: (error?: unknown) => void) => void): void };

/** Shuts every drainer down together; resolves when the last socket is closed (or its linger period is over). */
async function shutdownAll(drainers: readonly Drainer[]): Promise<void> {
  await Promise.all(
    drainers.map(async (drainer) => {
      try {
        await drainer.shutdown({ reason: 'fastify-close' });
      } catch (error) {
        // A drainer the app disposed of on purpose has nothing to drain.
        if (isDrainError(error) && error.code === DrainErrorCodes.DISPOSED) return;
        throw error;
      }
      // Fastify's close step would destroy a socket still lingering for its client's FIN; let it finish.
      await bounded(drainer.socketsClosed(), drainer.settings.lingerMs + 250);
    }),
  );
}

function bounded(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Core's handleSignals drives the shutdown (second signal forces, exit code
 * says whether anything was forced); when it is over the app is closed, so
 * Fastify's onClose hooks (databases...) run, and only then does the process exit.
 */
function installSignals(app: FastifyInstance, drainer: Drainer, options: HandleSignalsOptions): void {
  const { exit = true, onDone, ...rest } = options;
  if (typeof exit !== 'boolean') {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `Invalid option "exit" of handleSignals: expected true or false, got ${JSON.stringify(exit)}`);
  }
  if (onDone !== undefined && typeof onDone !== 'function') {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, 'Invalid option "onDone" of handleSignals: expected a function');
  }
  const remove = drainer.handleSignals({
    ...rest,
    exit: false,
    onDone(outcome) {
      const finish = (closeError?: unknown) => {
        if (closeError) app.log.error({ err: closeError }, 'drainkit: app.close() failed after the shutdown');
        try {
          onDone?.(outcome);
        } finally {
          if (exit) process.exit(closeError ? Math.max(outcome.exitCode, 1) : outcome.exitCode);
        }
      };
      app.close().then(() => finish(), finish);
    },
  });
  app.addHook('onClose', (_instance, done) => {
    remove();
    done();
  });
}

/** The drainkit Fastify plugin (Fastify 4 and 5). */
export const drainkit: FastifyPluginAsync<DrainkitOptions> = fp(drainkitPlugin, { fastify: '4.x || 5.x', name: '@drainkit/fastify' });
