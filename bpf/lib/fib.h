/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Routing a translated packet ourselves: the kernel's FIB gives the egress interface and MACs. */
#ifndef SLUICE_LIB_FIB_H
#define SLUICE_LIB_FIB_H

#include "nat.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/*
 * Route a packet of @f translated to @n, arriving on @ifindex: fills @fib with where it leaves
 * and the next hop's MAC. Returns the BPF_FIB_LKUP_RET_* code; NO_NEIGH means the kernel must
 * resolve the neighbour first (fib->ifindex is set then).
 */
static __always_inline int fib_next_hop(void *ctx, __u32 ifindex, const struct flow *f, const struct nat_tuple *n,
					struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->l4_protocol = f->proto;
	fib->sport = n->sport;
	fib->dport = n->dport;
	fib->ipv4_src = n->saddr;
	fib->ipv4_dst = n->daddr;
	fib->ifindex = ifindex;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* Set @eth's addresses to the next hop's, as @fib found them. */
static __always_inline void fib_set_macs(struct ethhdr *eth, const struct bpf_fib_lookup *fib)
{
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
}

#endif /* SLUICE_LIB_FIB_H */
