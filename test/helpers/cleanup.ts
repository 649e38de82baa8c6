import type net from 'node:net';
import type { Drainer } from '@drainkit/core';
import { afterEach } from 'vitest';
import { closeServer } from './net.js';

/**
 * Servers, drainers and clients a test file opens, closed after each test:
 * clients first, then drainers disposed, then servers closed.
 */
export function cleanupAfterEach(): {
  servers: net.Server[];
  drainers: Drainer[];
  clients: Array<{ destroy(): void }>;
  track<S extends net.Server>(server: S, drainer?: Drainer): S;
} {
  const servers: net.Server[] = [];
  const drainers: Drainer[] = [];
  const clients: Array<{ destroy(): void }> = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    for (const drainer of drainers.splice(0)) drainer.dispose();
    await Promise.all(servers.splice(0).map((server) => closeServer(server)));
  });
  return {
    servers,
    drainers,
    clients,
    track(server, drainer) {
      servers.push(server);
      if (drainer) drainers.push(drainer);
      return server;
    },
  };
}
