import http from 'node:http';
import { createDrainer } from '@drainkit/core';
import type { Drainer, DrainerOptions } from '@drainkit/core';
import type { cleanupAfterEach } from './cleanup.js';
import { RawClient, deferred, get, listen, until } from './net.js';

type Tracked = ReturnType<typeof cleanupAfterEach>;

/** A drainer on `server` (the drainer tracked for cleanup; the caller tracks the server), listening. */
async function drained(env: Tracked, server: http.Server, options?: DrainerOptions): Promise<{ drainer: Drainer; port: number }> {
  const drainer = createDrainer(server, options);
  env.drainers.push(drainer);
  return { drainer, port: await listen(server) };
}

/** A server with one request (/slow) in its handler until `gate` resolves. */
export async function requestInFlight(env: Tracked, options?: DrainerOptions) {
  const gate = deferred();
  const server = env.track(http.createServer((_req, res) => void gate.promise.then(() => res.end('slow'))));
  const { drainer, port } = await drained(env, server, options);
  const client = await RawClient.connect(port);
  env.clients.push(client);
  client.write(get('/slow'));
  await until(() => drainer.stats().inFlight === 1);
  return { drainer, gate, client };
}

/** A half-open raw client on `server` (tracked by the caller) that has had its response to /a and is idle. */
export async function idleHalfOpenClient(env: Tracked, server: http.Server, options?: DrainerOptions) {
  const { drainer, port } = await drained(env, server, options);
  const client = await RawClient.connect(port, { allowHalfOpen: true });
  env.clients.push(client);
  client.write(get('/a'));
  await client.waitFor((data) => data.includes('ok'));
  await until(() => drainer.connections()[0]?.state === 'idle');
  return { drainer, client };
}
