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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * A reply to a source-NATed flow goes back to its client; anything else is balanced as from
 * outside. A frontend without endpoints is left to the kernel, which refuses (RST / port
 * unreachable) on a node address. Returns LB_UNTOUCHED, LB_DNAT, LB_FORWARD or LB_DROP.
 */
static __always_inline enum lb_verdict ext_decide(const struct flow *f, struct nat_tuple *n)
{
	enum lb_verdict v;
	__u32 svc_id;

	if (nat_snat_reply(f, n, bpf_ktime_get_ns()))
		return LB_FORWARD;
	v = lb_decide(f, SL_SCOPE_EXTERNAL, n, &svc_id);
	return v == LB_REJECT ? LB_UNTOUCHED : v;
}

SEC("xdp")
int sl_ext_xdp(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib;
	struct nat_tuple n;
	struct flow f;
	struct ethhdr *eth;
	enum lb_verdict v;
	int rc;

	if (parse_xdp(ctx, &f))
		return XDP_PASS;
	v = ext_decide(&f, &n);
	if (v == LB_UNTOUCHED)
		return XDP_PASS;
	if (v == LB_DROP)
		return XDP_DROP;
	if (v == LB_FORWARD) {
		rc = fib_next_hop(ctx, ctx->ingress_ifindex, &f, &n, &fib);
		/*
		 * XDP cannot ask for ARP. Leave the frame as it came: sl_ext_tc at tc ingress finds the
		 * conntrack entry made above and sends it with bpf_redirect_neigh(), which can.
		 */
		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
			return XDP_PASS;
		if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			count(SL_CNT_EXT_FIB_FAIL);
			return XDP_DROP;
		}
	}
	if (nat_xdp(ctx, &f, &n))
		return XDP_DROP;
	if (v == LB_DNAT)
		return XDP_PASS;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	fib_set_macs(eth, &fib);
	return fib.ifindex == ctx->ingress_ifindex ? XDP_TX : bpf_redirect(fib.ifindex, 0);
}

/*
 * The same north-south path at tc ingress: the whole path for interfaces whose driver cannot run
 * XDP, and, behind XDP, the frames that wait for a neighbour to be resolved.
 */
SEC("tc")
int sl_ext_tc(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib;
	struct nat_tuple n;
	struct ethhdr eth;
	struct flow f;
	enum lb_verdict v;
	int rc;

	if (parse_skb(skb, &f))
		return TC_ACT_OK;
	v = ext_decide(&f, &n);
	if (v == LB_UNTOUCHED)
		return TC_ACT_OK;
	if (v == LB_DROP)
		return TC_ACT_SHOT;
	if (nat_skb(skb, &f, &n))
		return TC_ACT_SHOT;
	if (v == LB_DNAT)
		return TC_ACT_OK;
	rc = fib_next_hop(skb, skb->ifindex, &f, &n, &fib);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		count(SL_CNT_EXT_FIB_FAIL);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	fib_set_macs(&eth, &fib);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

/* tc egress on the external interface: see nat_reverse_skb(). */
SEC("tc")
int sl_ext_egress(struct __sk_buff *skb)
{
	return nat_reverse_skb(skb);
}
