/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Next hops of frames XDP sends on itself (sl_ext_xdp, XDP_TX to another node's backend or back to
 * an outside client), cached for a short time: bpf_fib_lookup() (route and neighbour) measured
 * ~500 ns per frame, the cache hit one hash lookup. docs/datapath.md, "Next-hop cache".
 *
 * Staleness is bounded: an entry is used for NH_TTL_NS after its lookup, then looked up again, so
 * a changed route or neighbour MAC is followed, and a deleted route stops being used, within
 * NH_TTL_NS (plus a tick of the coarse clock). A lookup that does not find a next hop removes the
 * entry. Entries are replaced whole (map update), so a reader on another CPU never sees half a MAC.
 *
 * Multipath routes: the kernel picks a path by hashing the fields its fib_multipath_hash_policy
 * names; without an skb (XDP) policy 0 and 2 read the two addresses only, 1 and 3 the ports and
 * protocol too. The key holds exactly what the hash may read: the addresses (and the arriving
 * interface), plus protocol and ports unless the agent says the node's policy reads addresses only
 * (NH_BY_ADDRESSES). So a cached hop is the one the kernel chooses for that flow, as it chose
 * it at most NH_TTL_NS ago. Policy rules (ip rule) choosing by port or protocol are followed only
 * in the per-flow mode; the agent's --next-hop-cache flag selects it, or turns the cache off.
 *
 * Private to sluice_ext.o (not pinned): a cache, rebuilt empty whenever the object is loaded.
 */
#ifndef SLUICE_LIB_NEXT_HOP_H
#define SLUICE_LIB_NEXT_HOP_H

#include "fib.h"

#define NH_TTL_NS		NSEC_PER_SEC
#define NH_CACHE_ENTRIES	8192

/* sl_nh_config flags, written by the agent (agent/next-hop-cache.ts); 0: per-flow keys. */
enum nh_flag {
	NH_BY_ADDRESSES	= 1 << 0,	/* key without protocol and ports: the node's multipath hash is L3 */
	NH_OFF		= 1 << 1,	/* no cache: every frame is looked up */
};

struct nh_config {
	__u32	flags;
};

struct nh_key {
	__u32	ifindex;	/* where the frame arrived */
	__be32	saddr, daddr;	/* as translated */
	__be16	sport, dport;	/* 0 with NH_BY_ADDRESSES */
	__u32	proto;		/* 0 with NH_BY_ADDRESSES */
};

struct nh_entry {
	__u64	looked_up_ns;	/* sl_now() of the lookup */
	__u32	ifindex;	/* where the frame leaves */
	__u8	dmac[ETH_ALEN];
	__u8	smac[ETH_ALEN];
	__u16	pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nh_config);
} sl_nh_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NH_CACHE_ENTRIES);
	__type(key, struct nh_key);
	__type(value, struct nh_entry);
} sl_nh_cache SEC(".maps");

/*
 * fib_next_hop() through the cache, for XDP: fills @nh with where a frame of @f translated to @n,
 * arriving on @ifindex, leaves (nh->ifindex, also for FIB_NEED_NEIGH) and its MACs.
 */
static __always_inline enum fib_result nh_lookup(struct xdp_md *ctx, __u32 ifindex, const struct flow *f,
						 const struct nat_tuple *n, struct nh_entry *nh)
{
	const struct nh_config *cfg;
	struct bpf_fib_lookup fib;
	struct nh_entry *cached;
	struct nh_key key = { .ifindex = ifindex, .saddr = n->saddr, .daddr = n->daddr };
	enum fib_result r;
	__u32 zero = 0, flags;
	__u64 now;

	cfg = bpf_map_lookup_elem(&sl_nh_config, &zero);
	flags = cfg ? cfg->flags : 0;
	if (!(flags & NH_BY_ADDRESSES)) {
		key.sport = n->sport;
		key.dport = n->dport;
		key.proto = f->proto;
	}
	now = sl_now();
	if (!(flags & NH_OFF)) {
		cached = bpf_map_lookup_elem(&sl_nh_cache, &key);
		if (cached && now - cached->looked_up_ns < NH_TTL_NS) {
			*nh = *cached;
			return FIB_FOUND;
		}
	}
	r = fib_next_hop(ctx, ifindex, f, n, &fib);
	nh->looked_up_ns = now;
	nh->ifindex = fib.ifindex;
	nh->pad = 0;
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	if (flags & NH_OFF)
		return r;
	if (r == FIB_FOUND)
		bpf_map_update_elem(&sl_nh_cache, &key, nh, BPF_ANY);
	else
		bpf_map_delete_elem(&sl_nh_cache, &key);	/* no route or no neighbour: nothing to keep */
	return r;
}

/* Set @eth's addresses to the next hop's. */
static __always_inline void nh_set_macs(struct ethhdr *eth, const struct nh_entry *nh)
{
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
}

#endif /* SLUICE_LIB_NEXT_HOP_H */
