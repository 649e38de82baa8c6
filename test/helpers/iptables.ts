import { execFileSync } from 'node:child_process';

/**
 * Whether iptables can be used here (Linux, root, the binary: .ci/run installs
 * it); warns, naming `who`, when not, so that a skipped test is seen.
 */
export function iptablesUsable(who: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    execFileSync('iptables', ['-w', '-S', 'INPUT'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn(`${who} skipped: iptables is missing or unusable here (needs root; .ci/run installs it)`);
    return false;
  }
}

/**
 * Drops every packet to 127.0.0.1:`port` (from `sourcePort` only, if given) that
 * carries an ACK but no SYN: the handshake's last step and what follows, so the
 * kernel keeps the connection half-open (SYN_RECV) until the rule goes and the
 * client retransmits. Returns the function that removes the rule (idempotent).
 */
export function holdHandshakes(port: number, sourcePort?: number): () => void {
  const source = sourcePort === undefined ? [] : ['--sport', String(sourcePort)];
  const rule = ['INPUT', '-p', 'tcp', '-d', '127.0.0.1', '--dport', String(port), ...source, '--tcp-flags', 'SYN,ACK', 'ACK', '-j', 'DROP'];
  execFileSync('iptables', ['-w', '-A', ...rule]);
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    execFileSync('iptables', ['-w', '-D', ...rule]);
  };
}
