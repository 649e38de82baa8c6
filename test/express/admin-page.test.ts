import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, get, until } from '../helpers/net.js';
import { startExpressApp } from './app.js';
import type { ExpressTestApp } from './app.js';
import { hasChromium, launchBrowser, noChromiumMessage } from './browser.js';
import { parseResponses } from './raw-responses.js';

if (!hasChromium) console.warn(`[admin page, Express] ${noChromiumMessage}`);

describe.skipIf(!hasChromium)('admin HTML page in headless Chromium (Express)', () => {
  let app: ExpressTestApp;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  beforeAll(async () => {
    app = await startExpressApp(express);
    browser = await launchBrowser({ username: 'admin', password: 's3cret' });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('lists a live connection, drains it with its button, and the row disappears', async () => {
    const client = await RawClient.connect(app.port);
    client.write(get('/fast'));
    await client.waitFor(() => parseResponses(client.data).length === 1, '/fast');
    const info = app.drainer.connections().find((c) => c.remotePort === client.socket.localPort)!;
    await until(() => info.state === 'idle');
    const drained = new Promise<{ id: string; reason: string | undefined; forced: boolean }>((resolve) =>
      app.drainer.on('connection:drained', (result) => result.id === info.id && resolve(result)),
    );

    const page = await browser.context.newPage();
    const response = await page.goto(`http://127.0.0.1:${app.port}/admin`);
    expect(response?.status()).toBe(200);
    const row = page.locator(`tr[data-id="${info.id}"]`);
    await row.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await row.locator('td.state').textContent()).toBe('idle');
    expect(await row.locator('td.remote').textContent()).toBe(`127.0.0.1:${client.socket.localPort}`);
    expect(await page.locator('#summary').textContent()).toMatch(/^serving · \d+ open/);

    await row.getByRole('button', { name: `Drain connection ${info.id}` }).click();
    expect(await drained).toMatchObject({ id: info.id, reason: 'admin-page', forced: false });
    await client.closed;
    expect(client.error).toBeUndefined();
    await row.waitFor({ state: 'detached', timeout: 5_000 });
    expect(await page.locator('#status').textContent()).toBe('');
    await page.close();
  });
});
