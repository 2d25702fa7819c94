/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv4 fragments. Only a datagram's first fragment carries the TCP/UDP header; the later ones
 * have the same addresses, protocol and IP id, but no ports, so conntrack and the service lookup
 * could not place them. Each hook remembers the ports of every first fragment it sees in sl_frags
 * (an LRU map) and gives them to the later fragments, which then take the same decision and the
 * same translation: only their IP header is rewritten, as they have no L4 header (its checksum,
 * over the whole datagram, is updated once, in the first fragment). A later fragment seen before
 * its first one (reordered, or the first was lost) is dropped: SL_DROP_FRAG_NO_FIRST and a
 * monitor event. Layouts: ../sluice_maps.h (struct sl_frag_key, struct sl_frag_ports).
 */
#ifndef SLUICE_LIB_FRAG_H
#define SLUICE_LIB_FRAG_H

#include <linux/ip.h>
#include <linux/if_ether.h>
#include <stddef.h>

#include "counters.h"
#include "csum.h"
#include "events.h"
#include "flow.h"

/* What the parsers return: the packet is parsed, is none of ours, or is to be dropped. */
enum parse_result {
	PARSE_OK = 0,
	PARSE_SKIP = -1,
	PARSE_DROP = -2,
};

static __always_inline void frag_key(struct sl_frag_key *k, const struct flow *f)
{
	*k = (struct sl_frag_key){ .saddr = f->saddr, .daddr = f->daddr, .id = f->ip_id, .proto = f->proto };
}

/* @f, a first fragment with its ports read: remember them for the later fragments. */
static __always_inline void frag_remember(const struct flow *f)
{
	struct sl_frag_ports ports = { .sport = f->sport, .dport = f->dport };
	struct sl_frag_key key;

	frag_key(&key, f);
	bpf_map_update_elem(&sl_frags, &key, &ports, BPF_ANY);
}

/*
 * @f, a later fragment: fill its ports from its first fragment. Returns PARSE_OK, or PARSE_DROP
 * (counted, with a monitor event) when the first fragment was not seen here.
 */
static __always_inline int frag_recall(struct flow *f)
{
	struct sl_frag_ports *ports;
	struct sl_frag_key key;

	f->tcp_flags = 0;
	frag_key(&key, f);
	ports = bpf_map_lookup_elem(&sl_frags, &key);
	if (!ports) {
		f->sport = 0;
		f->dport = 0;
		count_drop(SL_DROP_FRAG_NO_FIRST);
		event_emit(SL_EV_DROP, SL_EV_REASON_FRAG_NO_FIRST, f, 0, 0);
		return PARSE_DROP;
	}
	f->sport = ports->sport;
	f->dport = ports->dport;
	return PARSE_OK;
}

/* A later fragment's address at @addr_off changes from @from to @to: the IP header only. Returns 0 or -1. */
static __always_inline int frag_rewrite_skb(struct __sk_buff *skb, __u32 addr_off, __be32 from, __be32 to)
{
	if (bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check), from, to, sizeof(to)) ||
	    bpf_skb_store_bytes(skb, addr_off, &to, sizeof(to), 0))
		return -1;
	return 0;
}

/* A later fragment's addresses in XDP become @saddr and @daddr: the IP header only. */
static __always_inline void frag_rewrite_xdp(struct iphdr *ip, __be32 saddr, __be32 daddr)
{
	ip->check = csum_update32(ip->check, ip->saddr, saddr);
	ip->check = csum_update32(ip->check, ip->daddr, daddr);
	ip->saddr = saddr;
	ip->daddr = daddr;
}

#endif /* SLUICE_LIB_FRAG_H */
