// One server of bench/shutdown-compare.mjs. argv[2] names the variant. Every
// variant serves GET / (20 ms of work, then "ok") and shuts down its own
// documented way on SIGTERM, then exits.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDrainer } from '@drainkit/core';

const variant = process.argv[2];
// drainkit with its defaults (idleGraceMs 1 000 ms: a pooled client that sends its next request as the
// drain starts is served); "… noGrace": idleGraceMs 0, what drainkit did by default before, to show the race.
const drainerOptions = { timeoutMs: 5_000, ...(variant.endsWith('noGrace') ? { idleGraceMs: 0 } : {}) };
const WORK_MS = 20;
const GRACE_MS = 5_000;

async function handler(req, res) {
  await sleep(WORK_MS);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
}

async function fastifyApp(withPlugin) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (withPlugin) await app.register((await import('@drainkit/fastify')).default, { ...drainerOptions, handleSignals: true });
  app.get('/', async () => {
    await sleep(WORK_MS);
    return 'ok';
  });
  return app;
}

const listenOn = (server) => new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, () => resolve(server.address().port)));
let port;
switch (variant) {
  case 'node-core': {
    // Node's own: close() stops listening and (Node ≥ 19) closes idle keep-alive connections.
    const server = http.createServer(handler);
    process.once('SIGTERM', () => server.close(() => process.exit(0)));
    port = await listenOn(server);
    break;
  }
  case 'drainkit':
  case 'drainkit+noGrace': {
    const server = http.createServer(handler);
    createDrainer(server, drainerOptions).handleSignals();
    port = await listenOn(server);
    break;
  }
  case 'http-terminator': {
    const { createHttpTerminator } = await import('http-terminator');
    const server = http.createServer(handler);
    const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: GRACE_MS });
    process.once('SIGTERM', () => terminator.terminate().then(() => process.exit(0)));
    port = await listenOn(server);
    break;
  }
  case 'terminus': {
    const { createTerminus } = await import('@godaddy/terminus');
    const server = http.createServer(handler);
    createTerminus(server, { signals: ['SIGTERM'], timeout: GRACE_MS, useExit0: true });
    port = await listenOn(server);
    break;
  }
  case 'fastify-close':
  case 'fastify+drainkit':
  case 'fastify+drainkit+noGrace': {
    const app = await fastifyApp(variant !== 'fastify-close');
    // Fastify's documented graceful stop is app.close(); the plugin's handleSignals calls it itself.
    if (variant === 'fastify-close') process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = app.server.address().port;
    break;
  }
  default:
    throw new Error(`unknown variant ${variant}`);
}
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, port });
