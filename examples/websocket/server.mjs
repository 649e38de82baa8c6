// drainkit + ws: WebSocket connections are "upgraded": HTTP no longer knows
// what runs on them, so the application says how to wind them down. Here a
// WebSocket close 1001 "going away" (RFC 6455 §7.4.1); the connection counts
// as drained when the socket closes, or is destroyed at the deadline.
//
//   npm run serve             (PORT=8080 by default)
//   npx wscat -c ws://127.0.0.1:8080/   then   kill -TERM <pid>
//
// `npm start` runs demo.mjs instead: server and clients in one process, printing each step.
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createDrainer } from '@drainkit/core';
import { WebSocketServer } from 'ws';

export async function startServer({ port = 8080, log = console.log } = {}) {
  const server = http.createServer((_req, res) => res.end('drainkit WebSocket example: connect with ws://\n'));
  const wss = new WebSocketServer({ noServer: true });
  /** The WebSocket of each upgraded socket, so the drain hook can close it properly. */
  const sockets = new Map();

  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.set(socket, ws);
      socket.once('close', () => sockets.delete(socket));
      ws.on('message', (data) => ws.send(`echo: ${data}`));
      ws.send('welcome');
    });
  });

  const drainer = createDrainer(server, { timeoutMs: 10_000 });
  // Called once per upgraded connection when it is drained (drainConnection, drain or shutdown).
  drainer.onUpgradedDrain((socket, connection) => {
    log(`[server] winding down WebSocket on connection ${connection.id}: close 1001 "going away"`);
    const ws = sockets.get(socket);
    if (ws) ws.close(1001, 'going away');
    else socket.end();
  });
  drainer.on('connection:open', ({ connection }) => log(`[server] connection ${connection.id} opened`));
  drainer.on('connection:drained', (r) =>
    log(`[server] connection ${r.id} (${r.protocol}) drained: forced=${r.forced}, ${r.durationMs} ms`),
  );
  drainer.on('shutdown:phase', ({ phase }) => log(`[server] shutdown phase: ${phase}`));

  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, wss, drainer, url: `ws://127.0.0.1:${server.address().port}` };
}

// Run directly: serve until SIGTERM/SIGINT, then shut down gracefully.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { drainer, wss, url } = await startServer({ port: Number(process.env.PORT ?? 8080) });
  // Runs after the last connection closed: the WebSocket server has nothing left to serve.
  drainer.onShutdown(() => wss.close(), { name: 'ws' });
  // SIGTERM / SIGINT: every WebSocket gets close 1001, then the process exits (0 when nothing was forced).
  drainer.handleSignals({
    onDone: ({ trigger, report }) =>
      console.log(`[server] ${trigger}: shutdown done: ${report ? `${report.closed} closed gracefully, ${report.forced} forced` : 'cut short'}`),
  });
  // Printed once the handlers are in place: a SIGTERM sent on seeing this line is handled.
  console.log(`[server] listening on ${url}`);
}
