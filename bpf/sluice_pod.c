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
 *   both: a whole TCP/UDP packet no step can concern (not to a frontend, a backend of a flow or
 *     this node; not from a backend of a flow) leaves after its fixed IP header, before the L4
 *     header and, for IPv6, before the tail call (from_pod_untouched(), to_pod_untouched())
 *   both: IP fragments after the first take its ports and translation (lib/frag.h)
 *
 * IPv6 (ETH_P_IPV6) is the same, with the IPv6 library (lib/parse6.h, lb6.h, nat6.h, ...) and maps: sl_from_pod6 and
 * sl_to_pod6, reached by a tail call from where the IPv4 parser gives up on a packet, so the IPv4
 * path keeps its instructions, and the IPv6 one a stack of its own (its 16-byte addresses would
 * not fit beside the IPv4 frame in 512 bytes). Errors are ICMPv6: port unreachable for REJECT,
 * Packet Too Big for a redirected packet too large for the egress MTU.
 *
 * Reverse NAT runs where the reply enters the client pod, so it does not matter whether the
 * backend is on this node or another one. The library is in lib/; docs/datapath.md maps it.
 */
#include "lib/eth.h"
#include "lib/fib.h"
#include "lib/fib6.h"
#include "lib/lb.h"
#include "lib/lb6.h"
#include "lib/reject.h"
#include "lib/reject6.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Translate @skb to @n and send it back into the pod it came from (hairpin). */
static __always_inline int pod_bounce(struct __sk_buff *skb, const struct flow *f, const struct nat_tuple *n)
{
	return nat_skb(skb, f, n) ? TC_ACT_SHOT : skb_bounce(skb);
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

/*
 * The IPv6 steps below that are functions of their own (__noinline, BPF-to-BPF calls) each get a
 * stack frame: inlined into one, the library's 16-byte addresses, conntrack entries and ICMPv6
 * quote would need more than the 512 bytes a program has.
 */

/* Translate @skb to @n and send it back into the pod it came from (pod_bounce(), IPv6). */
static __always_inline int pod6_bounce(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	return nat6_skb(skb, f, n) ? TC_ACT_SHOT : skb_bounce(skb);
}

/*
 * pod_forward() for IPv6: back into the pod (hairpin), else to the next hop; a packet too big for
 * the egress MTU gets the Packet Too Big the kernel's forwarding would have sent.
 */
static __noinline int pod6_forward(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	struct bpf_fib_lookup fib;
	enum fib_result r;
	int rc;

	if (ip6_eq(n->daddr, f->saddr))
		return pod6_bounce(skb, f, n);
	r = fib6_next_hop_skb(skb, f, n, &fib);
	if (r == FIB_TOO_BIG && flow6_has_l4(f)) {
		rc = icmp6_send_skb(skb, f, ICMP6_PKT_TOOBIG, 0, fib.mtu_result);
		return rc < 0 ? TC_ACT_SHOT : rc;
	}
	return nat6_skb(skb, f, n) ? TC_ACT_SHOT : fib_send_skb(skb, r, &fib);
}

/* pod_icmp() for IPv6: an ICMPv6 error from a pod about a translated flow (icmp6_ext_skb()). */
static __noinline int pod6_icmp(struct __sk_buff *skb, const struct flow6 *f)
{
	struct nat_tuple6 n = {};
	struct flow6 out = {};

	switch (icmp6_ext_skb(skb, f, n.saddr, n.daddr)) {
	case ICMP_FORWARD:
		/* Rewritten already: @out as @n, so pod6_bounce() translates nothing. */
		out.proto = NEXTHDR_ICMP6;
		ip6_copy(out.saddr, n.saddr);
		ip6_copy(out.daddr, n.daddr);
		return ip6_eq(n.daddr, f->saddr) ? pod6_bounce(skb, &out, &n) : fib6_redirect_skb(skb, &out, &n);
	case ICMP_DROP:
		return TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
}

/* parse6_skb() in a frame of its own (its fragment key is 44 bytes). */
static __noinline int pod6_parse(struct __sk_buff *skb, struct flow6 *f)
{
	return parse6_skb(skb, f);
}

/* nat6_snat_reply() in a frame of its own. */
static __noinline int pod6_snat_reply(const struct flow6 *f, struct nat_tuple6 *n)
{
	return nat6_snat_reply(f, n, sl_now());
}

/* nat6_skb(): TC_ACT_OK, or TC_ACT_SHOT when the rewrite failed. */
static __noinline int pod6_dnat(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	return nat6_skb(skb, f, n) ? TC_ACT_SHOT : TC_ACT_OK;
}

/* ct6_forget_reply() in a frame of its own. */
static __noinline void pod6_forget_reply(const struct flow6 *f)
{
	ct6_forget_reply(f);
}

/* lb6_decide() for a pod (SL_SCOPE_CLUSTER). */
static __noinline enum lb_verdict pod6_decide(const struct flow6 *f, struct nat_tuple6 *n, __u32 *svc_id)
{
	return lb6_decide(f, SL_SCOPE_CLUSTER, n, svc_id);
}

/* reject6_skb() in a frame of its own (its quote is 128 bytes). */
static __noinline int pod6_reject(struct __sk_buff *skb, const struct flow6 *f)
{
	return reject6_skb(skb, f);
}

/* Whether @f is addressed to this node's IPv6 address, where source-NATed flows come from. */
static __always_inline int to_node6(const struct flow6 *f)
{
	const __be32 *node = node_ip6();

	return node && ip6_eq(node, f->daddr);
}

/* sl_from_pod for IPv6 packets (tail-called from it): the same steps with the IPv6 library. */
SEC("tc")
int sl_from_pod6(struct __sk_buff *skb)
{
	struct nat_tuple6 n;
	struct flow6 f;
	__u32 svc_id = 0;
	int parsed = pod6_parse(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed == PARSE6_ICMP)
		return pod6_icmp(skb, &f);
	if (parsed)
		return TC_ACT_OK;
	if (to_node6(&f) && pod6_snat_reply(&f, &n))
		return pod6_forward(skb, &f, &n);
	switch (pod6_decide(&f, &n, &svc_id)) {
	case LB_UNTOUCHED:
		pod6_forget_reply(&f);
		return TC_ACT_OK;
	case LB_REJECT:
		stats_reject(svc_id);
		return pod6_reject(skb, &f);
	case LB_DROP:
		return TC_ACT_SHOT;
	case LB_FORWARD:
		return pod6_forward(skb, &f, &n);
	case LB_DNAT:
		return pod6_dnat(skb, &f, &n);
	}
	return TC_ACT_OK;
}

/* sl_to_pod for IPv6 packets (tail-called from it). */
SEC("tc")
int sl_to_pod6(struct __sk_buff *skb)
{
	return nat6_reverse_skb(skb);
}

/*
 * The IPv6 programs, by the entry point that hands them a packet. libbpf fills the array when it
 * loads this object. The agent gives it a pin path (agent/bpf/objects.ts; no pinning attribute here,
 * so other loaders get an array of their own): the kernel empties a program array whose last
 * user-space reference goes, which an exiting agent's would be while its programs stay attached;
 * pinned, the next agent's load reuses it and points the running programs at its IPv6 programs.
 */
enum pod6_prog {
	POD6_FROM = 0,
	POD6_TO = 1,
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));	/* not a BTF type: the kernel takes none for a program array */
	__array(values, int (struct __sk_buff *));
} sl_pod6_progs SEC(".maps") = {
	.values = {
		[POD6_FROM] = (void *)&sl_from_pod6,
		[POD6_TO] = (void *)&sl_to_pod6,
	},
};

/*
 * The early exits. Most packets on a pod's veth have nothing to do with a service: direct pod-to-pod
 * traffic, and everything a connection translated at connect() sends (socket-level balancing) and
 * gets back. Whether a packet can concern any step is decided from its fixed IP header alone, read
 * in place, before the L4 header, fragment state or (IPv6) the tail call and extension-header
 * parse. Only whole TCP/UDP packets leave early (no IPv4 fragment, no IPv6 extension header): ICMP
 * errors and fragments keep their full path.
 */

/* @skb's IPv4 header when it carries a whole TCP or UDP datagram, else NULL. */
static __always_inline struct iphdr *pod_ip4_plain(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return NULL;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return NULL;
	return ip;
}

/* @skb's IPv6 header when TCP or UDP follows it directly (no extension header), else NULL. */
static __always_inline struct ip6_fixed *pod_ip6_plain(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ip6_fixed *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return NULL;
	if (ip6->nexthdr != NEXTHDR_TCP && ip6->nexthdr != NEXTHDR_UDP)
		return NULL;
	return ip6;
}

/*
 * Whether @skb, leaving a pod, concerns no step of sl_from_pod(6): its destination can be no
 * frontend (lb_decide(): SL_ADDR_FRONTEND), no backend a REPLY entry names (ct_forget_reply():
 * SL_ADDR_REPLY_SRC) and is not this node's address (source-NATed replies: to_node()).
 */
static __always_inline int from_pod_untouched(struct __sk_buff *skb)
{
	struct ip6_fixed *ip6;
	struct iphdr *ip;

	ip = pod_ip4_plain(skb);
	if (ip) {
		struct sl_config *cfg;
		__u32 zero = 0;

		if (addr_maybe(SL_ADDR_FRONTEND, ip->daddr) || addr_maybe(SL_ADDR_REPLY_SRC, ip->daddr))
			return 0;
		cfg = bpf_map_lookup_elem(&sl_config, &zero);
		return cfg && cfg->node_ip != ip->daddr;
	}
	ip6 = pod_ip6_plain(skb);
	if (ip6) {
		const __be32 *node;
		__be32 d[4];

		__builtin_memcpy(d, ip6->daddr, sizeof(d));
		if (addr_maybe6(SL_ADDR_FRONTEND, d) || addr_maybe6(SL_ADDR_REPLY_SRC, d))
			return 0;
		node = node_ip6();
		return !node || !ip6_eq(node, d);
	}
	return 0;
}

/*
 * Whether @skb, entering a pod, concerns no step of sl_to_pod(6): its source can be no backend
 * a REPLY entry names, so there is no reverse translation to do (nat_reverse_flow()).
 */
static __always_inline int to_pod_untouched(struct __sk_buff *skb)
{
	struct ip6_fixed *ip6;
	struct iphdr *ip;

	ip = pod_ip4_plain(skb);
	if (ip)
		return !addr_maybe(SL_ADDR_REPLY_SRC, ip->saddr);
	ip6 = pod_ip6_plain(skb);
	if (ip6) {
		__be32 s[4];

		__builtin_memcpy(s, ip6->saddr, sizeof(s));
		return !addr_maybe6(SL_ADDR_REPLY_SRC, s);
	}
	return 0;
}

/* The IPv6 half of an entry point: jump into it (a failed tail call leaves the packet alone). */
static __always_inline int pod6_jump(struct __sk_buff *skb, enum pod6_prog prog)
{
	bpf_tail_call(skb, &sl_pod6_progs, prog);
	return TC_ACT_OK;
}

SEC("tc")
int sl_from_pod(struct __sk_buff *skb)
{
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id = 0;
	int parsed;

	if (from_pod_untouched(skb))
		return TC_ACT_OK;
	parsed = parse_skb(skb, &f);
	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed) {
		/* Not IPv4 TCP/UDP: checked here, so IPv4's own path has no instruction more. */
		if (skb->protocol == bpf_htons(ETH_P_IPV6))
			return pod6_jump(skb, POD6_FROM);
		return pod_icmp(skb);
	}
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

/* nat_reverse_skb(), with IPv6 packets handed to sl_to_pod6 where the IPv4 parser gives up. */
SEC("tc")
int sl_to_pod(struct __sk_buff *skb)
{
	struct flow f;
	int parsed;

	if (to_pod_untouched(skb))
		return TC_ACT_OK;
	parsed = parse_skb(skb, &f);
	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed) {
		if (skb->protocol == bpf_htons(ETH_P_IPV6))
			return pod6_jump(skb, POD6_TO);
		return icmp_reverse_skb(skb) ? TC_ACT_SHOT : TC_ACT_OK;
	}
	return nat_reverse_flow(skb, &f);
}
