/**
 * The Node request behind a framework request. Express hands Nest the Node
 * `IncomingMessage` itself; Fastify wraps it and keeps it as `request.raw`
 * (https://fastify.dev/docs/latest/Reference/Request/).
 */
export function rawRequest(request: unknown): unknown {
  if (request !== null && typeof request === 'object' && 'raw' in request) {
    const raw = (request as { raw: unknown }).raw;
    if (raw !== null && typeof raw === 'object' && 'socket' in raw) return raw;
  }
  return request;
}
