/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Routing a translated packet ourselves: the kernel's FIB gives the egress interface and MACs. */
#ifndef SLUICE_LIB_FIB_H
#define SLUICE_LIB_FIB_H

#include "nat.h"

#ifndef AF_INET
#define AF_INET 2
#endif

enum fib_result {
	FIB_FOUND,		/* egress interface and MACs known */
	FIB_NEED_NEIGH,		/* routed, but the kernel must resolve the neighbour first */
	FIB_NONE,		/* no route (counted: SL_CNT_EXT_FIB_FAIL) */
	FIB_TOO_BIG,		/* an skb larger than the egress MTU (fib->mtu_result; counted as FIB_NONE) */
};

/* bpf_fib_lookup()'s return code as a fib_result (either family); a failure is counted. */
static __always_inline enum fib_result fib_result_of(int rc)
{
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		return FIB_FOUND;
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return FIB_NEED_NEIGH;
	count(SL_CNT_EXT_FIB_FAIL);
	/* Only skb lookups check the MTU (without tot_len: the skb against the egress device). */
	return rc == BPF_FIB_LKUP_RET_FRAG_NEEDED ? FIB_TOO_BIG : FIB_NONE;
}

/*
 * Route a packet of @f translated to @n, arriving on @ifindex: fills @fib with where it leaves
 * (fib->ifindex, also for FIB_NEED_NEIGH) and the next hop's MAC.
 */
static __always_inline enum fib_result fib_next_hop(void *ctx, __u32 ifindex, const struct flow *f,
						    const struct nat_tuple *n, struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->l4_protocol = f->proto;
	fib->sport = n->sport;
	fib->dport = n->dport;
	fib->ipv4_src = n->saddr;
	fib->ipv4_dst = n->daddr;
	fib->ifindex = ifindex;
	return fib_result_of(bpf_fib_lookup(ctx, fib, sizeof(*fib), 0));
}

/* Set @eth's addresses to the next hop's, as @fib found them. */
static __always_inline void fib_set_macs(struct ethhdr *eth, const struct bpf_fib_lookup *fib)
{
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
}

/*
 * tc: send @skb, routed as @r and @fib say (fib_next_hop()), to its next hop: with the MACs the FIB knows, or
 * through bpf_redirect_neigh() when the neighbour must be resolved first. Packets with this node's
 * address as source go this way because the kernel would drop them as martians if routed.
 */
static __always_inline int fib_send_skb(struct __sk_buff *skb, enum fib_result r, const struct bpf_fib_lookup *fib)
{
	struct ethhdr eth;

	switch (r) {
	case FIB_NEED_NEIGH:
		return bpf_redirect_neigh(fib->ifindex, NULL, 0, 0);
	case FIB_NONE:
	case FIB_TOO_BIG:
		return TC_ACT_SHOT;
	case FIB_FOUND:
		break;
	}
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	fib_set_macs(&eth, fib);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib->ifindex, 0);
}

/* fib_send_skb() after the lookup for @skb of @f, already rewritten to @n. */
static __always_inline int fib_redirect_skb(struct __sk_buff *skb, const struct flow *f, const struct nat_tuple *n)
{
	struct bpf_fib_lookup fib;

	return fib_send_skb(skb, fib_next_hop(skb, skb->ifindex, f, n, &fib), &fib);
}

#endif /* SLUICE_LIB_FIB_H */
