// Preloaded (node --import) into a documentation program the test runs: the
// program listens on the port the docs show (3000...), the test needs a free
// one. Every listen() gets port 0; the bound port and each request's start are
// reported on stderr for the test to act on.
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) args[0] = 0;
  else if (args[0] && typeof args[0] === 'object' && 'port' in args[0]) args[0] = { ...args[0], port: 0 };
  this.once('listening', () => process.stderr.write(`doc-test:listening ${JSON.stringify({ port: this.address().port })}\n`));
  return listen.apply(this, args);
};

// Node's own channel, published when a request is dispatched (Node >= 18.7).
diagnosticsChannel.subscribe('http.server.request.start', ({ request }) => {
  process.stderr.write(`doc-test:request ${request.url}\n`);
});
