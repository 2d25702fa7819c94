// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice on pods' interfaces: tc on the host side of each pod's veth (east-west, ClusterIP).
 *
 *   sl_from_pod (tc ingress, packets leaving a pod)
 *     lb_decide(): conntrack hit, or service hit -> affinity or Maglev -> conntrack pair -> DNAT
 *     no backend -> ICMP port unreachable back to the pod (kube-proxy's REJECT)
 *     a pod reaching itself through its service (hairpin): source NAT to this node's address
 *       (lb_snat), and the packet, and the pod's answer translated back, sent straight back in
 *     a pod reaching an externalTrafficPolicy Cluster NodePort, externalIP or LoadBalancer IP:
 *       source NAT too, as kube-proxy masquerades it; sent to the backend by the FIB (another
 *       node's answer comes back through sl_ext_*, this node's through sl_from_pod, as below)
 *     a backend's answer to a source-NATed north-south flow (externalTrafficPolicy Cluster):
 *       translated back and sent to the outside client
 *     an ICMP error about a reply the pod got from a service -> to the backend; about a source-
 *       NATed flow, either way, sent on by this node (pod_icmp(), lib/icmp.h)
 *   sl_to_pod (tc egress, packets entering a pod)
 *     reply conntrack hit -> SNAT source back to the service address and port
 *   both: IP fragments after the first take its ports and translation (lib/frag.h)
 *
 * Reverse NAT runs where the reply enters the client pod, so it does not matter whether the
 * backend is on this node or another one. The library is in lib/; docs/datapath.md maps it.
 */
#include "lib/fib.h"
#include "lib/lb.h"
#include "lib/reject.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Translate @skb to @n and send it back into the pod it came from (hairpin). */
static __always_inline int pod_bounce(struct __sk_buff *skb, const struct flow *f, const struct nat_tuple *n)
{
	struct ethhdr eth;
	__u8 mac[ETH_ALEN];

	if (nat_skb(skb, f, n) || bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	__builtin_memcpy(mac, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, mac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/*
 * Send @skb of @f, translated to @n with this node's address on one side, on ourselves: back into
 * the pod it came from (hairpin), else to the next hop, since the kernel would drop a packet from
 * a pod with this node's address as source as a martian.
 */
static __always_inline int pod_forward(struct __sk_buff *skb, const struct flow *f, const struct nat_tuple *n)
{
	struct bpf_fib_lookup fib;
	enum fib_result r;
	int rc;

	if (n->daddr == f->saddr)
		return pod_bounce(skb, f, n);
	/*
	 * Redirected, a packet larger than the egress MTU would be lost without the "fragmentation
	 * needed" the kernel's forwarding sends: send it to the pod ourselves, quoting its packet.
	 */
	r = fib_next_hop(skb, skb->ifindex, f, n, &fib);
	if (r == FIB_TOO_BIG && flow_has_l4(f)) {
		rc = icmp_unreach_skb(skb, f, ICMP_FRAG_NEEDED, fib.mtu_result);
		return rc < 0 ? TC_ACT_SHOT : rc;
	}
	return nat_skb(skb, f, n) ? TC_ACT_SHOT : fib_send_skb(skb, r, &fib);
}

/*
 * An ICMP error from a pod, as on the external interface (icmp_ext_skb()): about a reply of a flow
 * translated without source NAT, to the backend; about a source-NATed flow (hairpin, eTP Cluster),
 * either way, sent on by this node with the node's address on one side: to the backend (an error
 * about a reply, from the client), or to the client (from the backend, about a packet it got).
 */
static __always_inline int pod_icmp(struct __sk_buff *skb)
{
	struct nat_tuple n = {};
	struct flow f = {};
	__be32 from;

	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, saddr), &from, sizeof(from)))
		return TC_ACT_OK;
	switch (icmp_ext_skb(skb, &n.saddr, &n.daddr)) {
	case ICMP_FORWARD:
		/* Rewritten already: @f as @n, so pod_bounce() translates nothing. */
		f.proto = IPPROTO_ICMP;
		f.saddr = n.saddr;
		f.daddr = n.daddr;
		return n.daddr == from ? pod_bounce(skb, &f, &n) : fib_redirect_skb(skb, &f, &n);
	case ICMP_DROP:
		return TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
}

/* Whether @f is addressed to this node's address, where source-NATed flows come from. */
static __always_inline int to_node(const struct flow *f)
{
	struct sl_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_config, &zero);
	return cfg && cfg->node_ip && cfg->node_ip == f->daddr;
}

SEC("tc")
int sl_from_pod(struct __sk_buff *skb)
{
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id = 0;
	int parsed = parse_skb(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed)
		return pod_icmp(skb);
	/*
	 * A backend answering a source-NATed flow: its own connection through its service (hairpin),
	 * or an outside client's (the kernel would drop this node's address as a martian source).
	 */
	if (to_node(&f) && nat_snat_reply(&f, &n, sl_now()))
		return pod_forward(skb, &f, &n);
	switch (lb_decide(&f, SL_SCOPE_CLUSTER, &n, &svc_id)) {
	case LB_UNTOUCHED:
		ct_forget_reply(&f);
		return TC_ACT_OK;
	case LB_REJECT:
		stats_reject(svc_id);
		return reject_skb(skb, &f);
	case LB_DROP:
		return TC_ACT_SHOT;
	case LB_FORWARD:
		/* Source-NATed (lb_needs_snat()): hairpin, or an eTP Cluster external address. */
		return pod_forward(skb, &f, &n);
	case LB_DNAT:
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
