// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice on pods' interfaces: tc on the host side of each pod's veth (east-west, ClusterIP).
 *
 *   sl_from_pod (tc ingress, packets leaving a pod)
 *     lb_decide(): conntrack hit, or service hit -> affinity or Maglev -> conntrack pair -> DNAT
 *     no backend -> ICMP port unreachable back to the pod (kube-proxy's REJECT)
 *   sl_to_pod (tc egress, packets entering a pod)
 *     reply conntrack hit -> SNAT source back to the service address and port
 *
 * Reverse NAT runs where the reply enters the client pod, so it does not matter whether the
 * backend is on this node or another one. The library is in lib/; docs/datapath.md maps it.
 */
#include "lib/lb.h"
#include "lib/reject.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int sl_from_pod(struct __sk_buff *skb)
{
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id = 0;

	if (parse_skb(skb, &f))
		return TC_ACT_OK;
	switch (lb_decide(&f, SL_SCOPE_CLUSTER, &n, &svc_id)) {
	case LB_UNTOUCHED:
		ct_forget_reply(&f);
		return TC_ACT_OK;
	case LB_REJECT:
		stats_reject(svc_id);
		return reject_skb(skb, &f);
	case LB_DROP:
		return TC_ACT_SHOT;
	case LB_DNAT:
	case LB_FORWARD:
		/* The kernel routes the translated packet, to a pod here or over the fabric. */
		return nat_skb(skb, &f, &n) ? TC_ACT_SHOT : TC_ACT_OK;
	}
	return TC_ACT_OK;
}

SEC("tc")
int sl_to_pod(struct __sk_buff *skb)
{
	return nat_reverse_skb(skb);
}
