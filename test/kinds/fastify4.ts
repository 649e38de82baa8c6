import { fastifyKind } from '../fastify/fastify-kind.js';

// Fastify 4 (npm alias fastify4) with the @drainkit/fastify plugin.
export default fastifyKind(4, 'http');
