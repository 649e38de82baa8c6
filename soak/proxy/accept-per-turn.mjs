#!/usr/bin/env node
// How many queued connections does Node accept per event-loop turn? (listener-close.ts
// relies on the answer.) The loop is blocked while a child process opens N connections,
// then each check phase records how many 'connection' events came so far.
// Usage: node soak/proxy/accept-per-turn.mjs [N=20]   (run it with each Node version)
import { spawn } from 'node:child_process';
import net from 'node:net';

const N = Number(process.argv[2] ?? 20);
const server = net.createServer((socket) => socket.on('error', () => {}));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const client = `const net = require('node:net'); let n = 0;
for (let i = 0; i < ${N}; i++) { const s = net.connect(${port}, '127.0.0.1', () => { if (++n === ${N}) setTimeout(() => process.exit(0), 3000); }); s.on('error', () => {}); }`;
  const child = spawn(process.execPath, ['-e', client], { stdio: 'inherit' });
  const until = Date.now() + 1_500;
  while (Date.now() < until); // the connections queue in the kernel meanwhile
  let accepted = 0;
  server.on('connection', () => accepted++);
  const perTurn = [];
  const turn = () => {
    perTurn.push(accepted);
    if (accepted < N && perTurn.length < 10 * N) setImmediate(turn);
    else {
      console.log(`${process.version} (libuv ${process.versions.uv}): ${N} queued connections accepted in ${perTurn.length} loop turns; accepted after each turn: ${perTurn.join(' ')}`);
      child.kill();
      server.close();
    }
  };
  setImmediate(turn);
});
