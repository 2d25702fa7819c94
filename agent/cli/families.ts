// How the CLI shows the IP families of what the agent was asked to serve: the maps hold what the
// datapath programs (both families, sl_services and sl_services6); on a node whose kernel has IPv6
// off the IPv6 frontends it leaves out come from the agent's status file (status.skipped), so
// `sluice service list` and `sluice status` still name both families.
import type { AgentStatus, SkippedStatus } from '../status.ts';

/** A frontend `sluice service list -o json` lists as not programmed. */
export interface SkippedRow {
  frontend: string;
  family: 'ipv6';
  type: string;
  name: string;
  service: string;
  programmed: false;
  reason: string;
}

export function skippedRows(status: AgentStatus | undefined): SkippedRow[] {
  const sk = status?.skipped;
  if (!sk) return [];
  return sk.services.flatMap((s) => s.frontends.map((f) => ({
    frontend: f.frontend, family: sk.family, type: f.type, name: f.name, service: s.service, programmed: false as const, reason: sk.reason,
  })));
}

/** `sluice status` lines: how many frontends of which services, the IPv6-only ones named. */
export function skippedLines(sk: SkippedStatus | undefined): string[] {
  if (!sk) return [];
  const whole = sk.services.filter((s) => s.whole).map((s) => s.service);
  const listed = (l: string[]) => (l.length > 5 ? `${l.slice(0, 5).join(', ')} and ${l.length - 5} more` : l.join(', '));
  return [
    `IPv6 skipped:    ${sk.frontends} frontend(s) of ${sk.services.length}${sk.truncated ? '+' : ''} service(s) not programmed: ${sk.reason}`,
    ...(whole.length ? [`IPv6-only:       ${listed(whole)} (nothing programmed)`] : []),
  ];
}
