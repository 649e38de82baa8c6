#!/usr/bin/env node
// Drain-under-load soak: each scenario runs a drainkit server here and the load in
// a separate process (soak/load.mjs), then checks that nothing was lost.
// Usage: node soak/run.mjs [--short] [--only drain-random,drain-half,shutdown,h2,sse]
// Exits non-zero when a target is missed. Imports the built @drainkit/core (npm run build).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startSoakServer } from './server.mjs';

const { values: flags } = parseArgs({
  options: { short: { type: 'boolean', default: false }, only: { type: 'string' }, seconds: { type: 'string' } },
});
const SECONDS = Number(flags.seconds ?? (flags.short ? 8 : 30));
const LOAD = new URL('./load.mjs', import.meta.url).pathname;
const random = (list) => list[Math.floor(Math.random() * list.length)];

function startLoad(config) {
  const child = fork(LOAD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = once(child, 'message');
  const result = new Promise((resolve, reject) => {
    child.on('message', (message) => message.done && resolve(message));
    child.on('exit', (code) => code !== 0 && reject(new Error(`load process exited with ${code}`)));
  });
  return {
    async start() {
      await ready;
      child.send({ cmd: 'start', config });
    },
    stop: () => child.connected && child.send({ cmd: 'stop' }),
    async finish() {
      const message = await result;
      child.disconnect();
      await once(child, 'exit').catch(() => {});
      return message;
    },
  };
}

/** Keeps calling `step` every `everyMs` until `until()` resolves; returns the drains it started. */
async function repeat(step, everyMs, stopAt) {
  const pending = [];
  while (Date.now() < stopAt) {
    const started = step();
    if (started) pending.push(started);
    await sleep(everyMs);
  }
  return Promise.all(pending);
}

// durationMs bounds the load process by itself; the runner normally stops it earlier.
const h1Load = (port, extra = {}) => ({ protocol: 'h1', port, durationMs: SECONDS * 1000 + 15_000, clients: 48, maxHandlerMs: 20, sseRatio: 0, maxRequests: 2_000_000, ...extra });
const h2Load = (port, extra = {}) => ({ protocol: 'h2', port, durationMs: SECONDS * 1000 + 15_000, sessions: 6, streamsPerSession: 32, maxHandlerMs: 20, sseRatio: 0, maxRequests: 2_000_000, ...extra });

const scenarios = {
  /** 1: drainConnection of a random live connection every 25 ms. */
  'drain-random': {
    protocol: 'h1',
    load: (port) => h1Load(port),
    async act(ctx, stopAt) {
      await repeat(() => {
        const live = ctx.drainer.connections((c) => c.state !== 'draining');
        return live.length ? ctx.drainer.drainConnection(random(live).id, { reason: 'soak' }).catch(ignoreClosed) : undefined;
      }, 25, stopAt);
    },
  },
  /** 2: drain(filter, { concurrency }) of a random half of the connections, over and over. */
  'drain-half': {
    protocol: 'h1',
    load: (port) => h1Load(port),
    async act(ctx, stopAt) {
      while (Date.now() < stopAt) {
        const report = await ctx.drainer.drain(() => Math.random() < 0.5, { concurrency: 4, reason: 'soak-half' });
        ctx.batches.push(report.total);
        await sleep(100);
      }
    },
  },
  /** 3: shutdown() while requests are in flight. */
  shutdown: {
    protocol: 'h1',
    load: (port) => h1Load(port, { expectListenerClose: true, maxHandlerMs: 100 }),
    async act(ctx, stopAt) {
      await sleep((stopAt - Date.now()) / 2);
      ctx.inFlightAtShutdown = ctx.drainer.stats().inFlight;
      ctx.shutdownReport = await ctx.drainer.shutdown({ timeoutMs: 5_000 });
    },
  },
  /** 4: HTTP/2, many concurrent streams per session: random session drains, then shutdown. */
  h2: {
    protocol: 'h2',
    load: (port) => h2Load(port, { expectListenerClose: true }),
    async act(ctx, stopAt) {
      const drainUntil = Date.now() + (stopAt - Date.now()) * 0.6;
      await repeat(() => {
        const live = ctx.drainer.connections((c) => c.state !== 'draining');
        return live.length ? ctx.drainer.drainConnection(random(live).id, { reason: 'soak' }).catch(ignoreClosed) : undefined;
      }, 100, drainUntil);
      ctx.inFlightAtShutdown = ctx.drainer.stats().inFlight;
      ctx.shutdownReport = await ctx.drainer.shutdown({ timeoutMs: 5_000 });
    },
  },
  /** 5: handlers of 0–200 ms and SSE streams that end on the drain signal; drains, then shutdown. */
  sse: {
    protocol: 'h1',
    load: (port) => h1Load(port, { maxHandlerMs: 200, sseRatio: 0.1, expectListenerClose: true }),
    async act(ctx, stopAt) {
      const drainUntil = Date.now() + (stopAt - Date.now()) * 0.7;
      let turn = 0;
      await repeat(() => {
        if (++turn % 10 === 0) return ctx.drainer.drain(() => Math.random() < 0.5, { concurrency: 8, reason: 'soak-half' });
        const live = ctx.drainer.connections((c) => c.state !== 'draining');
        return live.length ? ctx.drainer.drainConnection(random(live).id, { reason: 'soak' }).catch(ignoreClosed) : undefined;
      }, 50, drainUntil);
      ctx.inFlightAtShutdown = ctx.drainer.stats().inFlight;
      ctx.shutdownReport = await ctx.drainer.shutdown({ timeoutMs: 5_000 });
    },
  },
};

/** A connection can close between being listed and being drained: that is not a failure. */
function ignoreClosed(error) {
  if (error?.code !== 'ERR_DRAIN_UNKNOWN_CONNECTION') throw error;
}

async function runScenario(name) {
  const scenario = scenarios[name];
  const ctx = await startSoakServer(scenario.protocol);
  ctx.batches = [];
  const load = startLoad(scenario.load(ctx.port));
  const startedAt = Date.now();
  await load.start();
  const stopAt = startedAt + SECONDS * 1000;
  await scenario.act(ctx, stopAt);
  const left = stopAt - Date.now();
  if (left > 0) await sleep(left);
  load.stop();
  const { counts: client, samples } = await load.finish();
  // Scenarios that did not shut down under load do it now, with the load gone.
  if (ctx.drainer.state === 'serving') await ctx.drainer.shutdown({ timeoutMs: 5_000 });
  await ctx.drainer.shutdown();
  ctx.clearTimers();
  const stats = ctx.drainer.stats();
  const server = ctx.counts;
  const misses = [];
  const expect = (ok, what) => ok || misses.push(what);
  expect(client.truncated === 0, `${client.truncated} truncated responses ${JSON.stringify(samples.truncated)}`);
  expect(client.errorsAfterBytes === 0, `${client.errorsAfterBytes} errors after response bytes ${JSON.stringify(samples.afterBytes)}`);
  expect(client.failedAfterRetry === 0, `${client.failedAfterRetry} requests failed after one retry ${JSON.stringify(samples.failed)}`);
  expect(
    server.handlersStarted === server.handlersFinished + ctx.drained.abortedRequests,
    `handlers started ${server.handlersStarted} ≠ finished ${server.handlersFinished} + reported forced ${ctx.drained.abortedRequests}`,
  );
  expect(server.closedUnfinished <= ctx.drained.abortedRequests, `${server.closedUnfinished} responses closed unfinished, ${ctx.drained.abortedRequests} reported`);
  expect(client.complete <= server.handlersFinished, `client saw ${client.complete} complete, server finished only ${server.handlersFinished}`);
  expect(stats.open === 0 && stats.accepted === stats.closed, `after shutdown: open ${stats.open}, accepted ${stats.accepted}, closed ${stats.closed}`);
  expect(client.complete > 0, 'no request completed: the load did not run');
  expect(ctx.drained.results > 0, 'no connection was drained: the scenario did not exercise drains');
  if (name === 'sse') expect(client.sseComplete > 0 && server.sseEndedBySignal > 0, `SSE: ${client.sseComplete} complete, ${server.sseEndedBySignal} ended by the drain signal`);
  return {
    name,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    client,
    server,
    drained: ctx.drained,
    inFlightAtShutdown: ctx.inFlightAtShutdown,
    stats: { accepted: stats.accepted, closed: stats.closed, forcedClosed: stats.forcedClosed, drained: stats.drained },
    misses,
  };
}

const names = flags.only ? flags.only.split(',') : Object.keys(scenarios);
for (const name of names) if (!scenarios[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
let failed = 0;
for (const name of names) {
  const outcome = await runScenario(name);
  const c = outcome.client;
  console.log(
    `[soak] ${outcome.misses.length ? 'FAIL' : 'ok  '} ${name.padEnd(12)} ${outcome.seconds}s  requests ${c.requests} (sent ${c.sent}), complete ${c.complete}, ` +
      `truncated ${c.truncated}, before-bytes errors ${c.errorsBeforeBytes} (retried ok ${c.retriedOk}, refused streams resent ${c.refusedResent ?? 0}), failed after retry ${c.failedAfterRetry}, ` +
      `refused after shutdown ${c.refusedAfterShutdown}, after-bytes errors ${c.errorsAfterBytes} | handlers ${outcome.server.handlersStarted}, ` +
      `drains ${outcome.drained.results} (forced ${outcome.drained.forced}, dropped ${outcome.drained.droppedRequests}, aborted ${outcome.drained.abortedRequests})` +
      (outcome.inFlightAtShutdown !== undefined ? `, in flight at shutdown ${outcome.inFlightAtShutdown}` : '') +
      (c.sseComplete ? `, SSE complete ${c.sseComplete} (ended by signal ${outcome.server.sseEndedBySignal})` : ''),
  );
  for (const miss of outcome.misses) console.log(`[soak]      target missed: ${miss}`);
  if (outcome.misses.length) failed++;
}
console.log(failed ? `[soak] ${failed} scenario(s) missed a target` : '[soak] all targets met');
process.exitCode = failed ? 1 : 0;
