// nginx-light and HAProxy from Debian, started in the foreground from a config
// written into a temp dir, stopped by PID. Only 127.0.0.1.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

/** The exact settings the soak tests (docs/proxies.md quotes them). */
export function nginxConfig(dir, port, backends, { recipe = false } = {}) {
  // Passive checks (nginx-light has no active ones): max_fails=1 takes a backend out
  // for fail_timeout after one failure. Without the recipe, max_fails=0: nginx's
  // default (1 failure, 10 s) takes both backends out during a quick rolling
  // restart ("no live upstreams"), which measures nginx's settings, not a drain.
  const server = (p) => `server 127.0.0.1:${p}${recipe ? ' max_fails=1 fail_timeout=2s' : ' max_fails=0'};`;
  return `
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  # The client side keeps its connections for the whole run.
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  upstream backends {
    ${backends.map(server).join('\n    ')}
    keepalive 32;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 2s;
    }
  }
}
`;
}

export function haproxyConfig(dir, port, backends, { recipe = false, checkInterMs = 500, h2 = false, retryOn = process.env.HAPROXY_RETRY_ON } = {}) {
  // fall 2: one check lost to a loaded machine must not take a healthy backend out.
  const check = recipe ? ` check inter ${checkInterMs} fall 2 rise 1` : '';
  // h2: HTTP/2 without TLS to the servers (\`proto h2\`), HTTP/1.1 on the client side, as in front of a gRPC or h2c service.
  const proto = h2 ? ' proto h2' : '';
  // The checks use the server's `proto h2` too (HAProxy 2.6 configuration.txt, 5.2 "check-proto": "If not
  // defined, the server one will be used"). HAProxy adds no Host to a check request (4.2 "http-check send"),
  // so its HEADERS carry neither :authority nor host, and Node's HTTP/2 (nghttp2) refuses such a request with
  // RST_STREAM PROTOCOL_ERROR, which HAProxy reports as "Socket error". A host header makes it a valid request.
  const checkHost = recipe && h2 ? '  http-check send hdr host localhost\n' : '';
  // HAPROXY_NO_DELAY=1: `option http-no-delay` (off by default; HAProxy's manual advises against it). It lifts
  // HAProxy's ~200 ms hold of a Content-Length response whose END_STREAM comes in a separate empty DATA frame,
  // as Node's compatibility API sends it (HAProxy issue 3447; docs/proxies.md), which caps the h2 runs at
  // about a tenth of the HTTP/1.1 request rate.
  const noDelay = process.env.HAPROXY_NO_DELAY ? '\n  option http-no-delay' : '';
  return `
global
  maxconn 4096
  pidfile ${dir}/haproxy.pid
  log stderr format raw local0 info
defaults
  mode http
  log global
  option httplog
  option dontlog-normal
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 300s
  timeout check 2s
  retries 3${retryOn ? `\n  retry-on ${retryOn}` : ''}
  option redispatch
  http-reuse always${noDelay}
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
${recipe ? '  option httpchk GET /ready\n' : ''}${checkHost}${backends.map((p, i) => `  server b${i} 127.0.0.1:${p}${proto}${check}`).join('\n')}
`;
}

/**
 * A free port below Linux's ephemeral range (net.ipv4.ip_local_port_range,
 * 32768–60999 by default). The backends are restarted on their port again and
 * again; a port from the ephemeral range (what listen(0) hands out) can
 * meanwhile become the local port of some outgoing connection (the proxy's, the
 * load's), and the restart fails with EADDRINUSE (CI, 2026-12-02).
 */
export async function freePort() {
  let low = 32_768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: keep the default.
  }
  const from = Math.max(1_024, low - 12_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    const server = net.createServer();
    const listening = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) continue;
    server.close();
    await once(server, 'close');
    return port;
  }
  throw new Error(`no free port found in ${from}-${low - 1}`);
}

async function waitForPort(port, child, what, ms = 5_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
}

/**
 * HAProxy speaking HTTP/2 to the backends (\`proto h2\`). 'haproxy-h2' is the
 * setting docs/proxies.md recommends for it: \`retry-on conn-failure
 * empty-response\`, so that a stream the backend refused unprocessed (one that
 * crossed its GOAWAY: Node accepts no stream once a GOAWAY is sent) is resent;
 * 'haproxy-h2-defaults' leaves HAProxy's retry-on as it is (conn-failure only),
 * to measure what that costs.
 */
export function haproxyH2(kind) {
  if (kind === 'haproxy-h2') return { h2: true, retryOn: 'conn-failure empty-response' };
  if (kind === 'haproxy-h2-defaults') return { h2: true };
  return {};
}

/** Starts `kind` ('nginx' | 'haproxy' | 'haproxy-h2' | 'haproxy-h2-defaults') in front of `backends`; returns { port, stop, log }. */
export async function startProxy(kind, backends, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), `drainkit-${kind}-`));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const conf = join(dir, `${kind}.conf`);
  let child;
  let stderr = '';
  if (kind === 'nginx') {
    if (!NGINX) throw new Error('nginx not installed: apt-get install -y nginx-light');
    writeFileSync(conf, nginxConfig(dir, port, backends, options));
    child = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  } else {
    if (!HAPROXY) throw new Error('haproxy not installed: apt-get install -y haproxy');
    writeFileSync(conf, haproxyConfig(dir, port, backends, { ...options, ...haproxyH2(kind) }));
    child = spawn(HAPROXY, ['-db', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  await waitForPort(port, child, kind);
  return {
    port,
    dir,
    /** The proxy's error log: nginx's error.log, HAProxy's stderr. */
    log: () => (kind === 'nginx' ? readIfThere(join(dir, 'error.log')) : stderr),
    async stop() {
      if (child.exitCode === null) {
        // SIGTERM: both exit at once (nginx master stops its workers).
        child.kill('SIGTERM');
        const exited = once(child, 'exit');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readIfThere(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Error-log lines grouped by their message (numbers and addresses blanked). */
export function logSummary(text) {
  const groups = {};
  for (const line of text.split('\n')) {
    const m = /\[(?:error|warn|crit|alert)\][^:]*: (?:\*\d+ )?(.*?)(?:, client:|$)/.exec(line) ?? /(Server \S+ is (?:DOWN|UP).*?)(?:\.|,|$)/.exec(line);
    if (!m) continue;
    const key = m[1].replace(/\d+/g, 'N').slice(0, 100);
    groups[key] = (groups[key] ?? 0) + 1;
  }
  return groups;
}
