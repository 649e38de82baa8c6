import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, noChromiumMessage } from '../express/browser.js';
import { parseResponses } from '../express/raw-responses.js';
import { RawClient, get, until } from '../helpers/net.js';
import { frameworks } from './frameworks.js';
import type { TestApp } from './test-app.js';

if (!hasChromium) console.warn(`[admin page] ${noChromiumMessage}`);

describe.skipIf(!hasChromium)('admin HTML page in headless Chromium', () => {
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  // One browser for every framework: each test opens its own page on its own app.
  beforeAll(async () => {
    browser = await launchBrowser({ username: 'admin', password: 's3cret' });
  });

  afterAll(async () => {
    await browser?.close();
  });

  describe.each(frameworks)('on $name', (framework) => {
    let app: TestApp | undefined;

    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it('lists a live connection, drains it with its button, and the row disappears', async () => {
      app = await framework.start();
      const client = await RawClient.connect(app.port);
      client.write(get('/fast'));
      await client.waitFor(() => parseResponses(client.data).length === 1, '/fast');
      const info = app.drainer.connections().find((c) => c.remotePort === client.socket.localPort)!;
      await until(() => info.state === 'idle');
      const drained = new Promise<{ id: string; reason: string | undefined; forced: boolean }>((resolve) =>
        app!.drainer.on('connection:drained', (result) => result.id === info.id && resolve(result)),
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
});
