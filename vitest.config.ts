import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));

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
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
