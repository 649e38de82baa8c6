import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, Child, fixtures } from './child.js';
import { freePort, progress, stopLoadExpectingNothingLost } from './load-client.js';

// `pm2 reload` of an app in cluster mode (wait_ready + process.send('ready'),
// kill_timeout) under continuous keep-alive load, with the project's own PM2
// binary and a PM2_HOME of the test's own: it never touches a global PM2.

const pm2Bin = fileURLToPath(new URL('../../node_modules/.bin/pm2', import.meta.url));
const APP = 'drainkit-pm2-test';

describe('pm2 reload in cluster mode under continuous keep-alive load', () => {
  const home = mkdtempSync(join(tmpdir(), 'drainkit-pm2-'));
  const eventsFile = join(home, 'events.log');
  const processes: Child[] = [];
  let pm2Started = false;

  function pm2(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(pm2Bin, args, { env: { ...process.env, PM2_HOME: join(home, 'pm2') }, timeout: 20_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`pm2 ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  async function workerPids(): Promise<number[]> {
    const list = JSON.parse(await pm2('jlist')) as Array<{ name: string; pid: number; pm2_env: { status: string } }>;
    return list.filter((p) => p.name === APP && p.pm2_env.status === 'online').map((p) => p.pid);
  }

  beforeAll(assertBuilt);
  afterAll(async () => {
    await Promise.all(processes.map((child) => child.stop()));
    // Even when the test failed: stop this PM2 home's daemon and its apps.
    if (pm2Started) await pm2('kill').catch((error: Error) => console.error(error.message));
    rmSync(home, { recursive: true, force: true });
  }, 30_000);

  it('reloads every instance twice over with 0 failed and 0 truncated requests', async () => {
    const port = await freePort();
    const config = join(home, 'ecosystem.config.cjs');
    writeFileSync(
      config,
      `module.exports = ${JSON.stringify({
        apps: [
          {
            name: APP,
            script: join(fixtures, 'pm2-app.cjs'),
            exec_mode: 'cluster',
            instances: 2,
            // Reload waits for process.send('ready') from the new instance, not just 'listening'.
            wait_ready: true,
            listen_timeout: 10_000,
            // PM2 sends SIGINT, then SIGKILL after kill_timeout: longer than the drain's 5 s grace.
            kill_timeout: 8_000,
            autorestart: false,
            // drainkit's default idleGraceMs: what users run (100 ms let a client stalled on a busy
            // 2-core CI machine send a request across the FIN now and then: a retried ECONNRESET).
            env: { PORT: String(port), EVENTS_FILE: eventsFile },
          },
        ],
      })};\n`,
    );
    pm2Started = true;
    await pm2('start', config);
    const firstPids = await workerPids();
    expect(firstPids).toHaveLength(2);

    const load = new Child('load.mjs', {}, [String(port), '8']);
    processes.push(load);
    await load.event('started');
    let stats = await progress(load, 0, 200);

    const generations = [firstPids];
    for (let round = 1; round <= 2; round++) {
      // Returns once every instance was replaced and its old process stopped.
      await pm2('reload', APP);
      const pids = await workerPids();
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(generations.flat()).not.toContain(pid);
      generations.push(pids);
      stats = await progress(load, stats.complete, 200);
    }

    const { final, summary } = await stopLoadExpectingNothingLost(load, generations);
    // Default idle grace: the keep-alive race never happens, so no request even needed its retry.
    expect(final.errorsBeforeBytes, summary).toBe(0);

    // Each replaced instance drained on PM2's SIGINT and exited 0 (clean) on its own, before kill_timeout.
    const events = readFileSync(eventsFile, 'utf8');
    for (const pid of [...generations[0]!, ...generations[1]!]) {
      expect(events, `pid ${pid}`).toContain(`phase cleanup-done pid ${pid}`);
      expect(events, `pid ${pid}`).toContain(`done SIGINT exit 0 pid ${pid}`);
    }
    const daemonLog = readFileSync(join(home, 'pm2', 'pm2.log'), 'utf8');
    const exits = daemonLog.match(/exited with code \[\d+\]/g) ?? [];
    expect(exits).toEqual(Array(4).fill('exited with code [0]'));
    console.info(`pm2 reload x2 under load: ${summary}`);
  }, 60_000);
});
