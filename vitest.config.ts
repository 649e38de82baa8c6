import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));
const nest11 = fileURLToPath(new URL('./test/nest11/node_modules/@nestjs/', import.meta.url));

export default defineConfig({
  // Nest's DI reads constructor types from decorator metadata; the key is
  // `decorator` (singular): a misspelled key is ignored silently (NODE-FACTS.md).
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  resolve: {
    // Tests run against the sources; test/packaging checks the built dist/.
    alias: [
      { find: /^@drainkit\/core\/cluster$/, replacement: `${packages}core/src/cluster.ts` },
      { find: /^@drainkit\/core\/adapter$/, replacement: `${packages}core/src/adapter.ts` },
      { find: /^@drainkit\/([a-z]+)$/, replacement: `${packages}$1/src/index.ts` },
    ],
  },
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      {
        // The Nest tests again on Nest 11 (the peer range is ^11 || ^12; the root has 12):
        // @nestjs/* from test/nest11, whose own requires then stay within Nest 11.
        extends: true,
        resolve: { alias: [{ find: /^@nestjs\/([a-z-]+)$/, replacement: `${nest11}$1` }] },
        test: {
          name: 'nest11',
          include: ['test/nestjs/{http,error-filter,module-wiring,health-module}.test.ts', 'test/shared/drain-suite.test.ts'],
          env: { DRAINKIT_KINDS: 'nest', DRAINKIT_NEST: '11' },
        },
      },
    ],
  },
});
