import { createHash } from 'node:crypto';
import type { HttpReply } from './readiness.js';

/*
 * The admin API's HTML page: live connections and their states, refreshed
 * every second, with a Drain button per connection that posts through the same
 * (authorized) API. Self-contained: no external script, style or font.
 */

const style = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
#summary { color: #555; margin-bottom: 1rem; }
#status { color: #b00020; min-height: 1.4em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e5e5e5; white-space: nowrap; }
th { font-weight: 600; background: #f6f6f6; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr[data-state="draining"] td { color: #a15c00; }
tr[data-state="active"] td.state { color: #0a7d2c; font-weight: 600; }
button { font: inherit; padding: .1rem .7rem; }
`;

// Rows are keyed by connection id and updated in place, so a button stays the
// same element across refreshes. Text goes through textContent only: remote
// addresses and reasons are never parsed as HTML.
const script = `
'use strict';
const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
const rows = document.getElementById('rows');
const summary = document.getElementById('summary');
const status = document.getElementById('status');
const byId = new Map();

let keepMessageUntil = 0;
function show(message, holdMs) {
  status.textContent = message;
  keepMessageUntil = Date.now() + (holdMs || 0);
}

function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
}

async function drain(id, button) {
  button.disabled = true;
  try {
    const res = await fetch(base + 'connections/' + encodeURIComponent(id) + '/drain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'admin-page' }),
      credentials: 'same-origin',
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      show('Drain of ' + id + ' refused: ' + res.status + ' ' + (body.code || ''), 5000);
      button.disabled = false;
    }
  } catch (error) {
    show('Drain of ' + id + ' failed: ' + error.message, 5000);
    button.disabled = false;
  }
}

function rowFor(id) {
  let row = byId.get(id);
  if (row) return row;
  row = document.createElement('tr');
  row.dataset.id = id;
  for (const name of ['id', 'protocol', 'state', 'remote', 'age', 'served', 'inflight']) {
    const td = document.createElement('td');
    td.className = name;
    if (name === 'age' || name === 'served' || name === 'inflight') td.classList.add('n');
    row.appendChild(td);
  }
  const action = document.createElement('td');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Drain';
  button.setAttribute('aria-label', 'Drain connection ' + id);
  button.addEventListener('click', () => drain(id, button));
  action.appendChild(button);
  row.appendChild(action);
  byId.set(id, row);
  rows.appendChild(row);
  return row;
}

function render(list, now, stats) {
  const live = new Set();
  for (const c of list) {
    live.add(c.id);
    const row = rowFor(c.id);
    row.dataset.state = c.state;
    const cells = row.children;
    cells[0].textContent = c.id;
    cells[1].textContent = c.protocol + (c.secure ? ' (TLS)' : '');
    cells[2].textContent = c.state;
    cells[3].textContent = (c.remoteAddress || '?') + ':' + (c.remotePort || '?');
    cells[4].textContent = formatAge(now - c.openedAt);
    cells[5].textContent = String(c.requestsServed);
    cells[6].textContent = String(c.inFlight);
    if (c.state === 'draining') cells[7].firstChild.disabled = true;
  }
  for (const [id, row] of byId) {
    if (!live.has(id)) { row.remove(); byId.delete(id); }
  }
  summary.textContent = stats.state + ' · ' + stats.open + ' open (' + stats.active + ' active, ' + stats.idle + ' idle, ' +
    stats.draining + ' draining) · ' + stats.accepted + ' accepted, ' + stats.drained + ' drained, ' + stats.forcedClosed + ' forced';
}

async function refresh() {
  try {
    const [list, stats] = await Promise.all(['connections', 'stats'].map((path) =>
      fetch(base + path, { credentials: 'same-origin', cache: 'no-store' }).then((res) => {
        if (!res.ok) throw new Error(res.status === 401 || res.status === 403 ? 'not authorized (' + res.status + ')' : 'HTTP ' + res.status);
        return res.json();
      })));
    render(list.connections, list.now, stats);
    document.body.dataset.loaded = 'true';
    if (Date.now() >= keepMessageUntil) show('');
  } catch (error) {
    show('Refresh failed: ' + error.message);
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, 1000);
}
loop();
`;

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>drainkit · connections</title>
<style>${style}</style>
</head>
<body>
<h1>Connections</h1>
<div id="summary">loading…</div>
<div id="status" role="status"></div>
<table>
<thead><tr><th>id</th><th>protocol</th><th>state</th><th>remote</th><th>age</th><th>served</th><th>in flight</th><th></th></tr></thead>
<tbody id="rows"></tbody>
</table>
<script>${script}</script>
</body>
</html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

// Only this page's own script and style run, and it talks to its own origin only.
const contentSecurityPolicy = [
  "default-src 'none'",
  `script-src ${sha256(script)}`,
  `style-src ${sha256(style)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function adminPageReply(): HttpReply {
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': contentSecurityPolicy,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body: html,
  };
}
