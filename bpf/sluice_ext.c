// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice on the node's external interface (north-south): NodePort, ExternalIP and LoadBalancer
 * addresses.
 *
 *   client ──▶ eth0 (XDP sl_ext_xdp, or tc sl_ext_tc)
 *     backend on this node (or externalTrafficPolicy Local): DNAT, hand to the kernel, which
 *       routes to the pod; the reply leaves through eth0, where tc egress (sl_ext_egress)
 *       puts the service address back as its source. The client's address is preserved.
 *     backend on another node: DNAT and SNAT to this node, sent straight back out of eth0;
 *       the reply comes back to this node, which undoes both and returns it to the client.
 *
 * The decision (ext_decide) is shared by the XDP and tc variants; only how bytes are rewritten
 * and sent differs. The library is in lib/; docs/datapath.md maps it.
 */
#include "lib/fib.h"
#include "lib/lb.h"
#include "lib/reject.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * A reply to a source-NATed flow goes back to its client; anything else is balanced as from
 * outside. A frontend without endpoints is refused (LB_REJECT, @svc_id names it) as kube-proxy
 * does, on a node address as on an externalIP or LoadBalancer IP the kernel does not own.
 */
static __always_inline enum lb_verdict ext_decide(const struct flow *f, struct nat_tuple *n, __u32 *svc_id)
{
	if (nat_snat_reply(f, n, sl_now()))
		return LB_FORWARD;
	return lb_decide(f, SL_SCOPE_EXTERNAL, n, svc_id);
}

/* XDP: send a frame of @f, translated to @n but not yet rewritten, to its next hop. */
static __always_inline int xdp_forward(struct xdp_md *ctx, const struct flow *f, const struct nat_tuple *n)
{
	struct bpf_fib_lookup fib;
	struct ethhdr *eth;

	switch (fib_next_hop(ctx, ctx->ingress_ifindex, f, n, &fib)) {
	case FIB_NEED_NEIGH:
		/*
		 * XDP cannot ask for ARP. Leave the frame as it came: sl_ext_tc at tc ingress finds the
		 * conntrack entry made by the decision and sends it with bpf_redirect_neigh(), which can.
		 */
		return XDP_PASS;
	case FIB_NONE:
		return XDP_DROP;
	case FIB_FOUND:
		break;
	}
	if (nat_xdp(ctx, f, n))
		return XDP_DROP;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	fib_set_macs(eth, &fib);
	return fib.ifindex == ctx->ingress_ifindex ? XDP_TX : bpf_redirect(fib.ifindex, 0);
}

SEC("xdp")
int sl_ext_xdp(struct xdp_md *ctx)
{
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id;

	if (parse_xdp(ctx, &f))
		return XDP_PASS;
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

/* tc: send a packet of @f, already rewritten to @n, to its next hop. */
static __always_inline int tc_forward(struct __sk_buff *skb, const struct flow *f, const struct nat_tuple *n)
{
	struct bpf_fib_lookup fib;
	struct ethhdr eth;

	switch (fib_next_hop(skb, skb->ifindex, f, n, &fib)) {
	case FIB_NEED_NEIGH:
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	case FIB_NONE:
		return TC_ACT_SHOT;
	case FIB_FOUND:
		break;
	}
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	fib_set_macs(&eth, &fib);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

/*
 * The same north-south path at tc ingress: the whole path for interfaces whose driver cannot run
 * XDP, and, behind XDP, the frames that wait for a neighbour to be resolved.
 */
SEC("tc")
int sl_ext_tc(struct __sk_buff *skb)
{
	enum lb_verdict v = LB_UNTOUCHED;
	struct nat_tuple n;
	struct flow f;
	__u32 svc_id = 0;

	if (!parse_skb(skb, &f))
		v = ext_decide(&f, &n, &svc_id);
	if (v == LB_UNTOUCHED)
		return TC_ACT_OK;
	if (v == LB_REJECT) {
		stats_reject(svc_id);
		return reject_skb(skb, &f);
	}
	if (v == LB_DROP || nat_skb(skb, &f, &n))
		return TC_ACT_SHOT;
	return v == LB_FORWARD ? tc_forward(skb, &f, &n) : TC_ACT_OK;
}

/* tc egress on the external interface: see nat_reverse_skb(). */
SEC("tc")
int sl_ext_egress(struct __sk_buff *skb)
{
	return nat_reverse_skb(skb);
}
