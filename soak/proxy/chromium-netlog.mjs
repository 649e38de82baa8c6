// Reads Chromium's own net log (--log-net-log) to say, for each fetch() that
// failed, whether the request ever reached the server, and if not why Chromium
// failed it (issue 16: Chromium over HTTP/2 through drains).
//
// What the net logs of Chromium 156 show (checked against Node 20.20 and 24.22
// servers, drainkit and Node's own `session.close()` alike): a request that has
// picked an HTTP/2 session (HTTP2_SESSION_POOL_FOUND_EXISTING_SESSION, or a new
// session becoming available) but not yet created its stream when that session
// receives a GOAWAY is failed by the browser without being sent: net::ERR_FAILED
// from SpdySession::TryCreateStream on a going-away session, or
// ERR_CONNECTION_CLOSED / ERR_SOCKET_NOT_CONNECTED once the session has finished
// going away (Chromium's net/spdy/spdy_session.cc, TryCreateStream and
// StartGoingAway). RFC 9113 §6.8 lets a client retry such a request on a new
// connection; Chromium retries only streams it has sent (REFUSED_STREAM or above
// the GOAWAY's last stream id), not requests still waiting for a stream. Any
// server that sends a GOAWAY can meet it, so these are counted apart
// (`clientSide`), and every other failure is the server's.

import { readFileSync } from 'node:fs';

/** Parses a net log; a log cut short (browser killed) is closed first. */
function readNetLog(path) {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    const cut = text.slice(0, text.lastIndexOf('}') + 1).replace(/,\s*$/, '');
    return JSON.parse(`${cut}]}`);
  }
}

const I_PARAM = /[?&]i=(\d+)/;

/**
 * For each request id `i` (the `i=` query parameter) in `failed`, one of:
 * - `client-side`: never sent, or sent only to be refused unprocessed, and the
 *   session it last waited on received a GOAWAY (see above);
 * - `server`: anything else (a sent request that was not refused, a reset ...).
 * Returns `{ byId: Map<i, { kind, netError, detail }>, clientSide, server }`.
 */
export function classifyChromiumFailures(path, failed) {
  const log = readNetLog(path);
  const types = Object.fromEntries(Object.entries(log.constants.logEventTypes).map(([name, id]) => [id, name]));
  const sourceTypes = log.constants.logSourceType;
  const bySource = new Map();
  for (const event of log.events) {
    const id = event.source.id;
    if (!bySource.has(id)) bySource.set(id, []);
    bySource.get(id).push(event);
  }
  // Per request id: the streams its HEADERS went out on.
  const sent = new Map();
  // Per session: its GOAWAYs (time, last accepted stream) and its refused streams.
  const goaways = new Map();
  const refused = new Map();
  for (const event of log.events) {
    const type = types[event.type];
    const p = event.params ?? {};
    if (type === 'HTTP2_SESSION_SEND_HEADERS') {
      const path = (p.headers ?? []).find((h) => h.startsWith(':path:'));
      const m = path && I_PARAM.exec(path);
      if (m) {
        if (!sent.has(m[1])) sent.set(m[1], []);
        sent.get(m[1]).push({ session: event.source.id, stream: p.stream_id });
      }
    } else if (type === 'HTTP2_SESSION_RECV_GOAWAY') {
      if (!goaways.has(event.source.id)) goaways.set(event.source.id, []);
      goaways.get(event.source.id).push({ time: Number(event.time), last: p.last_accepted_stream_id });
    } else if (type === 'HTTP2_SESSION_RECV_RST_STREAM' && String(p.error_code).includes('REFUSED_STREAM')) {
      if (!refused.has(event.source.id)) refused.set(event.source.id, new Set());
      refused.get(event.source.id).add(p.stream_id);
    }
  }
  const wasRefused = ({ session, stream }) =>
    refused.get(session)?.has(stream) || (goaways.get(session) ?? []).some((g) => g.last !== undefined && g.last < stream);

  // Per request id: the URL request that failed, and the sessions its stream jobs waited on.
  const wanted = new Set(failed.map(String));
  const byId = new Map();
  for (const events of bySource.values()) {
    if (events[0].source.type !== sourceTypes.URL_REQUEST) continue;
    const url = events.find((e) => e.params?.url)?.params.url;
    const m = url && I_PARAM.exec(url);
    if (!m || !wanted.has(m[1])) continue;
    const end = events.findLast((e) => types[e.type] === 'REQUEST_ALIVE' && e.phase === 2);
    const netError = end?.params?.net_error;
    if (!netError) continue;
    const sessions = [];
    for (const e of events) {
      if (types[e.type] !== 'HTTP_STREAM_REQUEST_BOUND_TO_JOB') continue;
      for (const j of bySource.get(e.params.source_dependency.id) ?? []) {
        const t = types[j.type];
        if (
          t === 'HTTP2_SESSION_POOL_FOUND_EXISTING_SESSION' ||
          t === 'HTTP_STREAM_JOB_HTTP2_SESSION_AVAILABLE' ||
          t === 'HTTP2_SESSION_POOL_IMPORTED_SESSION_FROM_SOCKET'
        )
          sessions.push({ session: j.params.source_dependency.id, time: Number(j.time) });
      }
    }
    const attempts = sent.get(m[1]) ?? [];
    const lastSession = sessions.at(-1);
    const sessionWentAway = lastSession !== undefined && (goaways.get(lastSession.session) ?? []).length > 0;
    const clientSide = attempts.every(wasRefused) && sessionWentAway && !attempts.some((a) => a.session === lastSession.session && !wasRefused(a));
    byId.set(m[1], {
      kind: clientSide ? 'client-side' : 'server',
      netError,
      detail: `net_error ${netError}, sent ${attempts.length}× (refused ${attempts.filter(wasRefused).length}), last session ${lastSession ? (sessionWentAway ? 'got a GOAWAY' : 'no GOAWAY') : 'none found'}`,
    });
  }
  let clientSide = 0;
  for (const i of wanted) {
    if (!byId.has(i)) byId.set(i, { kind: 'server', netError: undefined, detail: 'not found in the net log' });
    if (byId.get(i).kind === 'client-side') clientSide++;
  }
  return { byId, clientSide, server: wanted.size - clientSide };
}
