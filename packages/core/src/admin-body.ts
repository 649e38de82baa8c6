import { DrainError, DrainErrorCodes, describeValue } from './errors.js';
import type { IncomingHttpHeaders } from 'node:http';

/** An admin request the client got wrong: answered with `status` and a stable `code`, never thrown further. */
export class AdminInputError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// application/json or any +json type (RFC 6839 §3.1).
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

export async function readJsonObject(
  request: { headers: IncomingHttpHeaders; parsedBody: unknown; stream: AsyncIterable<unknown> & { readableEnded?: boolean } },
  limit: number,
): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'];
  // A JSON content type cannot be sent cross-site without a CORS preflight
  // (Fetch standard, CORS-safelisted request-header), so this also keeps forms
  // and no-cors fetches from another site from driving the admin API.
  if (typeof type !== 'string' || !JSON_TYPE.test(type)) {
    throw new AdminInputError(415, 'ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE', 'POST bodies must be Content-Type: application/json (send {} for no options)');
  }
  let value = request.parsedBody;
  if (value === undefined && !request.stream.readableEnded) {
    const declared = Number(request.headers['content-length']);
    if (declared > limit) throw tooLarge(limit);
    const text = await readText(request.stream, limit);
    try {
      value = text.trim() === '' ? {} : (JSON.parse(text) as unknown);
    } catch {
      throw new AdminInputError(400, 'ERR_ADMIN_INVALID_JSON', 'The body is not valid JSON');
    }
  }
  // Only a missing body means "no options": a JSON null is a body, and not an object.
  if (value === undefined) value = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DrainError(DrainErrorCodes.INVALID_OPTION, `The body must be a JSON object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

async function readText(stream: AsyncIterable<unknown>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(limit: number): AdminInputError {
  return new AdminInputError(413, 'ERR_ADMIN_BODY_TOO_LARGE', `The body is larger than ${limit} bytes`);
}
