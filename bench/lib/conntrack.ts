// Netfilter connection tracking on a contender's node. A real node has it loaded (its CNI's and
// firewall's rules use it) and kube-proxy's nat rules load it on theirs, so every node of the
// benchmark gets it; Sluice is measured without it as well. One nftables table whose rules match
// on ct state makes the namespace track every flow it sees; deleting the table stops tracking.
import { nsRun } from '../../sim/netns.ts';

const TABLE = 'inet sluice_bench_conntrack';
const state = new Map<string, boolean>();

export async function setConntrack(ns: string, on: boolean): Promise<void> {
  if (state.get(ns) === on) return;
  if (on) {
    await nsRun(ns, 'nft', ['-f', '-'], {
      input: [
        `add table ${TABLE}`,
        `add chain ${TABLE} prerouting { type filter hook prerouting priority -300 ; }`,
        `add rule ${TABLE} prerouting ct state new counter`,
        `add chain ${TABLE} output { type filter hook output priority -300 ; }`,
        `add rule ${TABLE} output ct state new counter`,
      ].join('\n') + '\n',
    });
  } else {
    await nsRun(ns, 'nft', ['delete', 'table', ...TABLE.split(' ')], { allowFail: true });
  }
  state.set(ns, on);
}
