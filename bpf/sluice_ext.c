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
 * The decision (ext_decide) is shared by the XDP and tc variants; only how bytes are rewritten
 * and sent differs. The library is in lib/; docs/datapath.md maps it.
 */
#include "lib/fib.h"
#include "lib/lb.h"
#include "lib/next_hop.h"
#include "lib/reject.h"

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

SEC("xdp")
int sl_ext_xdp(struct xdp_md *ctx)
{
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id;
	int parsed = parse_xdp(ctx, &f);

	if (parsed)	/* ICMP errors too: sl_ext_tc translates them */
		return parsed == PARSE_DROP ? XDP_DROP : XDP_PASS;
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
	if (parsed)
		return ext_icmp(skb);
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

/* tc egress on the external interface: see nat_reverse_skb(). */
SEC("tc")
int sl_ext_egress(struct __sk_buff *skb)
{
	return nat_reverse_skb(skb);
}
