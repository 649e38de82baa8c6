// koa2 is `npm:koa@2` (a dev dependency alias); @types/koa covers the API both majors share.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
