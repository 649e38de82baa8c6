import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { attach, readiness } from '@drainkit/express';
import type { RequestDrain } from '@drainkit/express';

const app = express();
app.get('/slow', async (req, res) => {
  const drain: RequestDrain = req.drain;
  console.log('slow started');
  await sleep(700);
  res.type('text').send(`slow done on ${drain.connection?.id}`);
});
app.get('/ready', readiness());

const { drainer, listening } = attach(app, { port: 0, host: '127.0.0.1', timeoutMs: 10_000 });
drainer.handleSignals();
const { port } = await listening;
console.log(JSON.stringify({ port }));
