/** One HTTP/1.1 response parsed from a raw socket's bytes. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the complete responses in `data` (Content-Length or chunked bodies); ignores a trailing partial one. */
export function parseResponses(data: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = data;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (!rest.startsWith('HTTP/1.1 ') || headEnd === -1) return responses;
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const sizeEnd = rest.indexOf('\r\n', bodyStart);
        if (sizeEnd === -1) return responses;
        const size = parseInt(rest.slice(bodyStart, sizeEnd), 16);
        if (Number.isNaN(size) || rest.length < sizeEnd + 2 + size + 2) return responses;
        body += rest.slice(sizeEnd + 2, sizeEnd + 2 + size);
        bodyStart = sizeEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (rest.length < bodyStart + length) return responses;
      body = rest.slice(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    rest = rest.slice(bodyStart);
  }
}
