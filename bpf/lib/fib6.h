/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Routing a translated IPv6 packet ourselves, as fib.h does IPv4's (same results, same sending). */
#ifndef SLUICE_LIB_FIB6_H
#define SLUICE_LIB_FIB6_H

#include "fib.h"
#include "nat6.h"

#ifndef AF_INET6
#define AF_INET6 10
#endif

/* fib_next_hop() for a packet of @f translated to @n, arriving on @ifindex. */
static __always_inline enum fib_result fib6_next_hop(void *ctx, __u32 ifindex, const struct flow6 *f,
						     const struct nat_tuple6 *n, struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET6;
	fib->l4_protocol = f->proto;
	fib->sport = n->sport;
	fib->dport = n->dport;
	__builtin_memcpy(fib->ipv6_src, n->saddr, 16);
	__builtin_memcpy(fib->ipv6_dst, n->daddr, 16);
	fib->ifindex = ifindex;
	return fib_result_of(bpf_fib_lookup(ctx, fib, sizeof(*fib), 0));
}

/*
 * fib6_next_hop() for an skb about to be redirected. Without a resolved neighbour the lookup stops
 * before its MTU check, and bpf_redirect_neigh() would hand the egress device a packet it drops as
 * too big, silently (the first datagram to a pod not yet in the neighbour table): then the lookup is
 * made again with the packet's length, which checks the MTU first. A GSO packet is left to the
 * device, which segments it.
 */
static __always_inline enum fib_result fib6_next_hop_skb(struct __sk_buff *skb, const struct flow6 *f,
							 const struct nat_tuple6 *n, struct bpf_fib_lookup *fib)
{
	enum fib_result r = fib6_next_hop(skb, skb->ifindex, f, n, fib);

	if (r != FIB_NEED_NEIGH || skb->gso_size || skb->len <= sizeof(struct ethhdr))
		return r;
	fib->tot_len = skb->len - sizeof(struct ethhdr);
	fib->ifindex = skb->ifindex;
	if (bpf_fib_lookup(skb, fib, sizeof(*fib), 0) == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		count(SL_CNT_EXT_FIB_FAIL);
		return FIB_TOO_BIG;	/* fib->mtu_result: the route's MTU */
	}
	/* Fits: the first lookup's result stands (tot_len shares its field with mtu_result). */
	return fib6_next_hop(skb, skb->ifindex, f, n, fib);
}

/* fib_send_skb() after the lookup for @skb of @f, already rewritten to @n. */
static __always_inline int fib6_redirect_skb(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	struct bpf_fib_lookup fib;

	return fib_send_skb(skb, fib6_next_hop(skb, skb->ifindex, f, n, &fib), &fib);
}

#endif /* SLUICE_LIB_FIB6_H */
