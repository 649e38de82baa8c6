import { fastifyKind } from '../fastify/fastify-kind.js';

// Fastify 5 with the @drainkit/fastify plugin: HTTP/1.1, h2c, h2 over TLS, and a serverFactory server.
export default [fastifyKind(5, 'http'), fastifyKind(5, 'h2c'), fastifyKind(5, 'h2-secure'), fastifyKind(5, 'server-factory')];
