// express4 is `npm:express@4` (a dev dependency alias); @types/express covers the API both majors share.
declare module 'express4' {
  import express from 'express';
  export default express;
}
