/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 fragments, as frag.h does IPv4's: only a datagram's first fragment carries the TCP/UDP
 * header, so each hook remembers the ports of every first fragment it sees in sl_frags6 (by
 * addresses, the Fragment header's 32-bit identification and the upper-layer protocol) and gives
 * them to the later fragments, which then take the same decision and translation. IPv6 has no
 * header checksum, so a later fragment's translation is its addresses alone (nat6.h). A later
 * fragment seen before its first is dropped: SL_DROP_FRAG_NO_FIRST and a monitor event.
 */
#ifndef SLUICE_LIB_FRAG6_H
#define SLUICE_LIB_FRAG6_H

#include "frag.h"

static __always_inline void frag6_key(struct sl_frag6_key *k, const struct flow6 *f)
{
	__builtin_memset(k, 0, sizeof(*k));
	ip6_copy(k->saddr, f->saddr);
	ip6_copy(k->daddr, f->daddr);
	k->id = f->frag_id;
	k->proto = f->proto;
}

/* @f, a first fragment with its ports read: remember them for the later fragments. */
static __always_inline void frag6_remember(const struct flow6 *f)
{
	struct sl_frag_ports ports = { .sport = f->sport, .dport = f->dport };
	struct sl_frag6_key key;

	frag6_key(&key, f);
	bpf_map_update_elem(&sl_frags6, &key, &ports, BPF_ANY);
}

/*
 * @f, a later fragment: fill its ports from its first fragment. Returns PARSE_OK, or PARSE_DROP
 * (counted, with a monitor event) when the first fragment was not seen here.
 */
static __always_inline int frag6_recall(struct flow6 *f)
{
	struct sl_frag_ports *ports;
	struct sl_frag6_key key;

	f->tcp_flags = 0;
	frag6_key(&key, f);
	ports = bpf_map_lookup_elem(&sl_frags6, &key);
	if (!ports) {
		f->sport = 0;
		f->dport = 0;
		count_drop(SL_DROP_FRAG_NO_FIRST);
		event6_emit(SL_EV_DROP, SL_EV_REASON_FRAG_NO_FIRST, f, 0, 0);
		return PARSE_DROP;
	}
	f->sport = ports->sport;
	f->dport = ports->dport;
	return PARSE_OK;
}

#endif /* SLUICE_LIB_FRAG6_H */
