// fastify4 is `npm:fastify@4` (a dev dependency alias); the tests use the API both majors share, typed by fastify 5's types.
declare module 'fastify4' {
  import fastify from 'fastify';
  export default fastify;
}
