import type { HealthReport } from './health.js';
import type { HttpReply } from './readiness.js';

/** What the probe replies need of a drainer (the Drainer facade has it). */
export interface ProbeTarget {
  readonly state: string;
  isReady(): boolean;
  checkHealth(): Promise<HealthReport>;
  readonly healthCheckCount: number;
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  // A cached "ready" would defeat the probe.
  'cache-control': 'no-store',
};

/**
 * Readiness with the registered health checks: 200 while serving and every
 * critical check is up; 503 with `Retry-After` once shutdown starts or while a
 * critical check is down. The body lists each check. During shutdown the
 * checks are not run (the answer is 503 anyway, and the database may be closing).
 */
export async function readinessWithChecks(drainer: ProbeTarget, retryAfterSeconds: number): Promise<HttpReply> {
  const serving = drainer.isReady();
  const report = serving && drainer.healthCheckCount > 0 ? await drainer.checkHealth() : undefined;
  const ready = serving && (report?.healthy ?? true);
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (!ready) headers['retry-after'] = String(retryAfterSeconds);
  const body: Record<string, unknown> = { ready, state: drainer.state };
  if (report) body.checks = report.checks;
  return { status: ready ? 200 : 503, headers, body: JSON.stringify(body) };
}

/**
 * Liveness: 200 for as long as the process answers, a graceful shutdown
 * included. A liveness probe that failed during the drain would have the
 * kubelet kill the container mid-drain (Kubernetes docs, "Configure Liveness,
 * Readiness and Startup Probes": a failed liveness probe restarts the container).
 */
export function livenessReply(drainer: { readonly state: string }): HttpReply {
  return { status: 200, headers: { ...JSON_HEADERS }, body: JSON.stringify({ alive: true, state: drainer.state }) };
}
