// CommonJS in both builds (.cts compiles to .cjs), so this `require` is the module's
// own: it resolves optional peers from where @drainkit/koa is installed, and lets the
// ESM build load one lazily and synchronously (adminRouter() returns a Router, not a
// Promise). No type annotation: Vite (the tests) parses .cts files as plain JS.
export const peerRequire = require;
