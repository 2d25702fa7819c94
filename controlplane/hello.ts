// What the control plane accepts from a client before trusting it with a node's state: the Hello's
// fields, validated as the API server validates a Node's name, and a bound on every client-supplied
// string that reaches the log.

/** A Node's name is a DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', at most 253 bytes. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const MAX_NODE_NAME_BYTES = 253;
/** Agent ids are the node name, pid and a random suffix (agent/stream-client.ts): 253 + room. */
export const MAX_AGENT_ID_BYTES = 320;
/** Client-supplied strings are cut to this many characters in logs. */
export const LOG_STRING_MAX = 120;

export function clip(s: unknown, max = LOG_STRING_MAX): string {
  const t = typeof s === 'string' ? s : String(s ?? '');
  return t.length <= max ? t : `${t.slice(0, max)}…(${t.length} chars)`;
}

/** Why a Hello is refused, or undefined when it is acceptable. */
export function helloProblem(nodeName: string, agentId: string): string | undefined {
  if (!nodeName) return 'Hello.node_name is required';
  if (Buffer.byteLength(nodeName) > MAX_NODE_NAME_BYTES) return `Hello.node_name is longer than ${MAX_NODE_NAME_BYTES} bytes`;
  if (!DNS1123_SUBDOMAIN.test(nodeName)) return 'Hello.node_name is not a DNS-1123 subdomain (lowercase alphanumerics, "-" and ".")';
  if (Buffer.byteLength(agentId) > MAX_AGENT_ID_BYTES) return `Hello.agent_id is longer than ${MAX_AGENT_ID_BYTES} bytes`;
  if (/[^\x21-\x7e]/.test(agentId)) return 'Hello.agent_id must be printable ASCII without spaces';
  return undefined;
}
