import type net from 'node:net';

/**
 * The extra servers Fastify opens when it listens on `localhost`: one per
 * address `localhost` resolves to besides the first (typically ::1 next to
 * 127.0.0.1), kept under its private symbol `fastify.serverBindings`
 * (lib/server.js, multipleBindings(), Fastify 4.29 and 5.x). They share the
 * app's request handler but not `app.server`, so each needs its own drainer.
 */
export function extraBindings(app: object): net.Server[] {
  for (let target: object | null = app; target !== null; target = Object.getPrototypeOf(target) as object | null) {
    for (const symbol of Object.getOwnPropertySymbols(target)) {
      if (symbol.description !== 'fastify.serverBindings') continue;
      const value = (target as Record<symbol, unknown>)[symbol];
      return Array.isArray(value) ? (value as net.Server[]) : [];
    }
  }
  return [];
}
