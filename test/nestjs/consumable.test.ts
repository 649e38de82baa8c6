import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The BUILT package, loaded by plain Node the way applications load it (npm test builds first).
const root = fileURLToPath(new URL('../../', import.meta.url));
const built = existsSync(`${root}packages/nestjs/dist/cjs/index.js`) && existsSync(`${root}packages/nestjs/dist/esm/index.js`);

function node(args: string[]): string {
  if (!built) throw new Error('packages/nestjs is not built: run `npm run build` first');
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' }, timeout: 20_000 });
}

/** Boots a Nest app with DrainModule, checks the drainer is attached to Nest's server, closes it, prints the facts. */
const bootApp = `
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const service = app.get(DrainService);
  const facts = { attached: service.attached, sameServer: service.drainer.server === app.getHttpServer(), state: service.state };
  await app.close();
  facts.after = service.state;
  console.log(JSON.stringify(facts));
`;

const expected = { attached: true, sameServer: true, state: 'serving', after: 'closed' };

describe('@drainkit/nestjs is consumable from the built dist', () => {
  it('from CommonJS: require() resolves dist/cjs and a CommonJS Nest app boots and drains with it', () => {
    const resolved = node(['-p', "require.resolve('@drainkit/nestjs')"]).trim();
    expect(resolved).toMatch(/packages[\\/]nestjs[\\/]dist[\\/]cjs[\\/]index\.js$/);
    const out = node([
      '-e',
      `
      const { Module } = require('@nestjs/common');
      const { NestFactory } = require('@nestjs/core');
      const { DrainModule, DrainService } = require('@drainkit/nestjs');
      class AppModule {}
      Module({ imports: [DrainModule.forRoot({ timeoutMs: 1000 })] })(AppModule);
      (async () => { ${bootApp} })().catch((error) => { console.error(error); process.exit(1); });
      `,
    ]);
    expect(JSON.parse(out)).toEqual(expected);
  });

  it('from ESM: import resolves dist/esm and an ESM Nest app boots and drains with it', () => {
    const resolved = node(['--input-type=module', '-e', "console.log(import.meta.resolve('@drainkit/nestjs'))"]).trim();
    expect(resolved).toMatch(/packages\/nestjs\/dist\/esm\/index\.js$/);
    const out = node([
      '--input-type=module',
      '-e',
      `
      import { Module } from '@nestjs/common';
      import { NestFactory } from '@nestjs/core';
      import { DrainModule, DrainService } from '@drainkit/nestjs';
      class AppModule {}
      Module({ imports: [DrainModule.forRoot({ timeoutMs: 1000 })] })(AppModule);
      ${bootApp}
      `,
    ]);
    expect(JSON.parse(out)).toEqual(expected);
  });
});
