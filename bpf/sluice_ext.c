// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice on the node's external interface (north-south): NodePort, ExternalIP and LoadBalancer
 * addresses.
 *
 *   client ──▶ eth0 (XDP sl_ext_xdp, or tc sl_ext_tc)
 *     externalTrafficPolicy Local (backends on this node only): DNAT, hand to the kernel, which
 *       routes to the pod; the reply leaves through eth0, where tc egress (sl_ext_egress)
 *       puts the service address back as its source. The client's address is preserved.
 *     externalTrafficPolicy Cluster (kube-proxy masquerades it): DNAT and SNAT to this node.
 *       Backend on another node: sent straight back out of eth0 (XDP_TX); the reply comes back
 *       here, which undoes both and returns it to the client. Backend on this node: XDP hands
 *       the frame to sl_ext_tc, which redirects it into the pod's veth; the pod's reply is
 *       undone on that veth (sl_from_pod) and sent out to the client.
 *
 * ICMP errors about these flows are translated at tc (ext_icmp), IP fragments after the first
 * take its translation (lib/frag.h).
 *
 * IPv6 (ETH_P_IPV6) takes the same steps with the IPv6 library (lib/parse6.h, lb6.h, nat6.h, ...)
 * and maps: sl_ext_xdp6, sl_ext_tc6 and sl_ext_egress6, tail-called where the IPv4 parser gives
 * up on a packet, so the IPv4 path keeps its instructions and the IPv6 one a stack of its own.
 * eTP Cluster source-NATs to sl_config6's address; a packet too big for the egress MTU is answered
 * with ICMPv6 Packet Too Big (routers never fragment IPv6), and ICMPv6 errors are translated both
 * ways (lib/icmp6.h).
 *
 * The decision (ext_decide) is shared by the XDP and tc variants; only how bytes are rewritten
 * and sent differs. The library is in lib/; docs/datapath.md maps it.
 */
#include "lib/fib.h"
#include "lib/fib6.h"
#include "lib/lb.h"
#include "lib/lb6.h"
#include "lib/next_hop.h"
#include "lib/reject.h"
#include "lib/reject6.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * A reply to a source-NATed flow goes back to its client; anything else is balanced as from
 * outside. A frontend without endpoints is refused (LB_REJECT, @svc_id names it) as kube-proxy
 * does, on a node address as on an externalIP or LoadBalancer IP the kernel does not own.
 */
static __always_inline enum lb_verdict ext_decide(const struct flow *f, struct nat_tuple *n, __u32 *svc_id)
{
	enum lb_verdict v;

	if (nat_snat_reply(f, n, sl_now()))
		return LB_FORWARD;
	v = lb_decide(f, SL_SCOPE_EXTERNAL, n, svc_id);
	/* A direct connection to a pod on the tuple of an earlier NodePort one. */
	if (v == LB_UNTOUCHED)
		ct_forget_stale_reply(f);
	return v;
}

/*
 * What sl_ext_xdp decided for a frame it leaves to sl_ext_tc to send, in the frame's metadata:
 * tc needs an skb to resolve a neighbour, or to enter a pod's veth (a veth takes XDP frames only
 * while its peer runs XDP). tc then neither decides again nor counts the packet twice.
 */
struct ext_handover {
	struct nat_tuple	n;
	__u32			magic;
};

#define EXT_HANDOVER_MAGIC	0x534c4831	/* "SLH1" */

/* XDP: pass the frame, untranslated, to sl_ext_tc with @n as what to make of it. */
static __always_inline int xdp_hand_over(struct xdp_md *ctx, const struct nat_tuple *n)
{
	struct ext_handover *h;

	/* A driver without XDP metadata: sl_ext_tc decides again, finding the conntrack entry. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*h)))
		return XDP_PASS;
	h = (void *)(long)ctx->data_meta;
	if ((void *)(h + 1) > (void *)(long)ctx->data)
		return XDP_PASS;
	h->n = *n;
	h->magic = EXT_HANDOVER_MAGIC;
	return XDP_PASS;
}

/* tc: whether XDP handed this frame over (xdp_hand_over()); fills @n with its decision. */
static __always_inline int tc_handed_over(struct __sk_buff *skb, struct nat_tuple *n)
{
	struct ext_handover *h = (void *)(long)skb->data_meta;

	if ((void *)(h + 1) > (void *)(long)skb->data || h->magic != EXT_HANDOVER_MAGIC)
		return 0;
	*n = h->n;
	return 1;
}

/*
 * XDP: send a frame of @f, translated to @n but not yet rewritten, to its next hop (looked up at
 * most once a second per destination: lib/next_hop.h).
 */
static __always_inline int xdp_forward(struct xdp_md *ctx, const struct flow *f, const struct nat_tuple *n)
{
	struct nh_entry nh;
	struct ethhdr *eth;

	switch (nh_lookup(ctx, ctx->ingress_ifindex, f, n, &nh)) {
	case FIB_NEED_NEIGH:
		/* XDP cannot ask for ARP: sl_ext_tc sends it with bpf_redirect_neigh(), which can. */
		return xdp_hand_over(ctx, n);
	case FIB_NONE:
	case FIB_TOO_BIG:	/* skb lookups only */
		return XDP_DROP;
	case FIB_FOUND:
		break;
	}
	/* Another interface, such as a pod's veth on this node: tc redirects an skb there. */
	if (nh.ifindex != ctx->ingress_ifindex)
		return xdp_hand_over(ctx, n);
	if (nat_xdp(ctx, f, n))
		return XDP_DROP;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	nh_set_macs(eth, &nh);
	return XDP_TX;
}

/*
 * IPv6. The steps that are functions of their own (__noinline, BPF-to-BPF calls) each get a stack
 * frame: inlined into one, the library's 16-byte addresses and conntrack entries would need more
 * than the 512 bytes a program has (as sluice_pod.c's IPv6 half).
 */

/* ext_decide() for IPv6. */
static __noinline enum lb_verdict ext6_decide(const struct flow6 *f, struct nat_tuple6 *n, __u32 *svc_id)
{
	enum lb_verdict v;

	if (nat6_snat_reply(f, n, sl_now()))
		return LB_FORWARD;
	v = lb6_decide(f, SL_SCOPE_EXTERNAL, n, svc_id);
	if (v == LB_UNTOUCHED)
		ct6_forget_stale_reply(f);
	return v;
}

/*
 * XDP hands IPv6 frames to tc for the reasons it hands IPv4 ones (xdp_hand_over()), untranslated,
 * but a struct nat_tuple6 would not fit in the 32 bytes of metadata older kernels allow: the mark
 * says "XDP decided LB_FORWARD", and tc reads the translation back from the conntrack entries that
 * decision left (ext6_recall()), neither deciding again nor counting the packet twice.
 */
struct ext_handover6 {
	__u32	magic;
};

#define EXT_HANDOVER6_MAGIC	0x534c4836	/* "SLH6" */

static __always_inline int xdp6_hand_over(struct xdp_md *ctx)
{
	struct ext_handover6 *h;

	/* A driver without XDP metadata: sl_ext_tc6 decides again, finding the conntrack entry. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*h)))
		return XDP_PASS;
	h = (void *)(long)ctx->data_meta;
	if ((void *)(h + 1) > (void *)(long)ctx->data)
		return XDP_PASS;
	h->magic = EXT_HANDOVER6_MAGIC;
	return XDP_PASS;
}

static __always_inline int tc_handed_over6(struct __sk_buff *skb)
{
	struct ext_handover6 *h = (void *)(long)skb->data_meta;

	return (void *)(h + 1) <= (void *)(long)skb->data && h->magic == EXT_HANDOVER6_MAGIC;
}

/*
 * tc, a frame XDP handed over with LB_FORWARD: the translation it chose, from the REPLY entry of
 * a source-NATed flow or the flow's SERVICE entry. LB_UNTOUCHED when neither is there (an entry
 * XDP could not insert): the caller decides again.
 */
static __noinline enum lb_verdict ext6_recall(const struct flow6 *f, struct nat_tuple6 *n)
{
	struct sl_ct6_entry *ct;
	struct sl_ct6_key key;

	if (nat6_snat_reply(f, n, sl_now()))
		return LB_FORWARD;
	ct6_key_of(&key, f, SL_CT_DIR_SERVICE);
	ct = bpf_map_lookup_elem(&sl_ct6, &key);
	if (!ct || !(ct->flags & SL_CT_F_SNAT))
		return LB_UNTOUCHED;
	ip6_copy(n->saddr, ct->rev_addr);
	ip6_copy(n->daddr, ct->nat_addr);
	n->sport = ct->rev_port;
	n->dport = ct->nat_port;
	return LB_FORWARD;
}

/* xdp_forward() for IPv6. */
static __noinline int xdp6_forward(struct xdp_md *ctx, const struct flow6 *f, const struct nat_tuple6 *n)
{
	struct bpf_fib_lookup fib;
	struct ethhdr *eth;

	switch (fib6_next_hop(ctx, ctx->ingress_ifindex, f, n, &fib)) {
	case FIB_NEED_NEIGH:
		return xdp6_hand_over(ctx);
	case FIB_NONE:
	case FIB_TOO_BIG:	/* skb lookups only */
		return XDP_DROP;
	case FIB_FOUND:
		break;
	}
	if (fib.ifindex != ctx->ingress_ifindex)
		return xdp6_hand_over(ctx);
	if (nat6_xdp(ctx, f, n))
		return XDP_DROP;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	fib_set_macs(eth, &fib);
	return XDP_TX;
}

/* parse6_xdp() in a frame of its own (its fragment key is 44 bytes). */
static __noinline int ext6_parse_xdp(struct xdp_md *ctx, struct flow6 *f)
{
	return parse6_xdp(ctx, f);
}

/* nat6_xdp(): XDP_PASS, or XDP_DROP when the rewrite failed. */
static __noinline int ext6_dnat_xdp(struct xdp_md *ctx, const struct flow6 *f, const struct nat_tuple6 *n)
{
	return nat6_xdp(ctx, f, n) ? XDP_DROP : XDP_PASS;
}

/* sl_ext_xdp for IPv6 frames (tail-called from it). */
SEC("xdp")
int sl_ext_xdp6(struct xdp_md *ctx)
{
	struct nat_tuple6 n;
	struct flow6 f;
	__u32 svc_id;
	int parsed = ext6_parse_xdp(ctx, &f);

	if (parsed)	/* ICMPv6 too: sl_ext_tc6 translates it */
		return parsed == PARSE_DROP ? XDP_DROP : XDP_PASS;
	/* LB_REJECT passes too: sl_ext_tc6, behind, decides again and answers with an skb. */
	switch (ext6_decide(&f, &n, &svc_id)) {
	case LB_DNAT:
		return ext6_dnat_xdp(ctx, &f, &n);
	case LB_FORWARD:
		return xdp6_forward(ctx, &f, &n);
	case LB_DROP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

/* parse6_skb() in a frame of its own. */
static __noinline int ext6_parse(struct __sk_buff *skb, struct flow6 *f)
{
	return parse6_skb(skb, f);
}

/* ext_icmp() for IPv6: an ICMPv6 error about a north-south flow (icmp6_ext_skb()). */
static __noinline int ext6_icmp(struct __sk_buff *skb, const struct flow6 *f)
{
	struct nat_tuple6 n = {};
	struct flow6 out = {};

	switch (icmp6_ext_skb(skb, f, n.saddr, n.daddr)) {
	case ICMP_FORWARD:
		/* Rewritten already: routed as @out, which is @n. */
		out.proto = NEXTHDR_ICMP6;
		ip6_copy(out.saddr, n.saddr);
		ip6_copy(out.daddr, n.daddr);
		return fib6_redirect_skb(skb, &out, &n);
	case ICMP_DROP:
		return TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
}

/*
 * tc: send @skb of @f, translated to @n, to its next hop. One too big for the egress MTU (a pod's
 * smaller link, say) gets the Packet Too Big the kernel's forwarding would have sent, quoting the
 * packet as its sender sent it: IPv6 is never fragmented on the way.
 */
static __noinline int ext6_forward(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	struct bpf_fib_lookup fib;
	enum fib_result r;
	int rc;

	r = fib6_next_hop(skb, skb->ifindex, f, n, &fib);
	if (r == FIB_TOO_BIG && flow6_has_l4(f)) {
		rc = icmp6_send_skb(skb, f, ICMP6_PKT_TOOBIG, 0, fib.mtu_result);
		return rc < 0 ? TC_ACT_SHOT : rc;
	}
	return nat6_skb(skb, f, n) ? TC_ACT_SHOT : fib_send_skb(skb, r, &fib);
}

/* nat6_skb(): TC_ACT_OK (the kernel routes it), or TC_ACT_SHOT when the rewrite failed. */
static __noinline int ext6_dnat(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	return nat6_skb(skb, f, n) ? TC_ACT_SHOT : TC_ACT_OK;
}

/* reject6_skb() in a frame of its own (its quote is 128 bytes): out of the interface it came in on. */
static __noinline int ext6_reject(struct __sk_buff *skb, const struct flow6 *f)
{
	return reject6_skb(skb, f);
}

/* sl_ext_tc for IPv6 packets (tail-called from it). */
SEC("tc")
int sl_ext_tc6(struct __sk_buff *skb)
{
	struct nat_tuple6 n;
	enum lb_verdict v;
	struct flow6 f;
	__u32 svc_id = 0;
	int parsed = ext6_parse(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed == PARSE6_ICMP)
		return ext6_icmp(skb, &f);
	if (parsed)
		return TC_ACT_OK;
	v = tc_handed_over6(skb) ? ext6_recall(&f, &n) : LB_UNTOUCHED;
	if (v == LB_UNTOUCHED)
		v = ext6_decide(&f, &n, &svc_id);
	switch (v) {
	case LB_UNTOUCHED:
		return TC_ACT_OK;
	case LB_REJECT:
		stats_reject(svc_id);
		return ext6_reject(skb, &f);
	case LB_DROP:
		return TC_ACT_SHOT;
	case LB_DNAT:
		return ext6_dnat(skb, &f, &n);
	case LB_FORWARD:
		return ext6_forward(skb, &f, &n);
	}
	return TC_ACT_OK;
}

/* sl_ext_egress for IPv6 packets (tail-called from it): see nat6_reverse_skb(). */
SEC("tc")
int sl_ext_egress6(struct __sk_buff *skb)
{
	return nat6_reverse_skb(skb);
}

/*
 * The IPv6 programs, by the entry point that hands them a packet: one array per program type (a
 * program array holds one). Per object, not pinned: libbpf fills them at load.
 */
enum ext6_prog {
	EXT6_TC = 0,
	EXT6_EGRESS = 1,
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));	/* not a BTF type: the kernel takes none for a program array */
	__array(values, int (struct __sk_buff *));
} sl_ext6_tc_progs SEC(".maps") = {
	.values = {
		[EXT6_TC] = (void *)&sl_ext_tc6,
		[EXT6_EGRESS] = (void *)&sl_ext_egress6,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int (struct xdp_md *));
} sl_ext6_xdp_progs SEC(".maps") = {
	.values = {
		[0] = (void *)&sl_ext_xdp6,
	},
};

/* The IPv6 half of a tc entry point: jump into it (a failed tail call leaves the packet alone). */
static __always_inline int ext6_jump(struct __sk_buff *skb, enum ext6_prog prog)
{
	bpf_tail_call(skb, &sl_ext6_tc_progs, prog);
	return TC_ACT_OK;
}

/* Whether an XDP frame is IPv6 (asked only of frames the IPv4 parser gave up on). */
static __always_inline int xdp_is_ipv6(struct xdp_md *ctx)
{
	struct ethhdr *eth = (void *)(long)ctx->data;

	return (void *)(eth + 1) <= (void *)(long)ctx->data_end && eth->h_proto == bpf_htons(ETH_P_IPV6);
}

SEC("xdp")
int sl_ext_xdp(struct xdp_md *ctx)
{
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id;
	int parsed = parse_xdp(ctx, &f);

	if (parsed) {
		/* Not IPv4 TCP/UDP: checked here, so IPv4's own path has no instruction more. */
		if (parsed == PARSE_SKIP && xdp_is_ipv6(ctx))
			bpf_tail_call(ctx, &sl_ext6_xdp_progs, 0);
		/* ICMP errors too: sl_ext_tc translates them */
		return parsed == PARSE_DROP ? XDP_DROP : XDP_PASS;
	}
	/* LB_REJECT passes too: sl_ext_tc, behind, decides again and answers with an skb. */
	switch (ext_decide(&f, &n, &svc_id)) {
	case LB_DNAT:
		return nat_xdp(ctx, &f, &n) ? XDP_DROP : XDP_PASS;
	case LB_FORWARD:
		return xdp_forward(ctx, &f, &n);
	case LB_DROP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

/*
 * tc: an ICMP error about a north-south flow (icmp_ext_skb()): rewritten for the kernel to
 * deliver to a backend here, or sent on by this node to the backend's node or to the client.
 */
static __always_inline int ext_icmp(struct __sk_buff *skb)
{
	struct flow f = { .proto = IPPROTO_ICMP };
	struct nat_tuple n = {};

	switch (icmp_ext_skb(skb, &n.saddr, &n.daddr)) {
	case ICMP_FORWARD:
		return fib_redirect_skb(skb, &f, &n);
	case ICMP_DROP:
		return TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
}

/*
 * The same north-south path at tc ingress: the whole path for interfaces whose driver cannot run
 * XDP, and, behind XDP, the frames XDP handed over (a neighbour to resolve, a pod to enter).
 */
SEC("tc")
int sl_ext_tc(struct __sk_buff *skb)
{
	struct nat_tuple n;
	enum lb_verdict v;
	struct flow f;
	__u32 svc_id = 0;
	int parsed = parse_skb(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed) {
		if (skb->protocol == bpf_htons(ETH_P_IPV6))
			return ext6_jump(skb, EXT6_TC);
		return ext_icmp(skb);
	}
	v = tc_handed_over(skb, &n) ? LB_FORWARD : ext_decide(&f, &n, &svc_id);
	if (v == LB_UNTOUCHED)
		return TC_ACT_OK;
	if (v == LB_REJECT) {
		stats_reject(svc_id);
		return reject_skb(skb, &f);
	}
	if (v == LB_DROP || nat_skb(skb, &f, &n))
		return TC_ACT_SHOT;
	return v == LB_FORWARD ? fib_redirect_skb(skb, &f, &n) : TC_ACT_OK;
}

/* tc egress on the external interface: nat_reverse_skb(), with IPv6 packets handed to sl_ext_egress6. */
SEC("tc")
int sl_ext_egress(struct __sk_buff *skb)
{
	struct flow f;
	int parsed = parse_skb(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed) {
		if (skb->protocol == bpf_htons(ETH_P_IPV6))
			return ext6_jump(skb, EXT6_EGRESS);
		return icmp_reverse_skb(skb) ? TC_ACT_SHOT : TC_ACT_OK;
	}
	return nat_reverse_flow(skb, &f);
}
