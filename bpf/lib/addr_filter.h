/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The address filter (sl_addr_filter): before any hash-table lookup, one bit says whether an
 * address can be a frontend's (the destination of a packet to a service, or of a conntrack
 * SERVICE entry) or a backend's answering a translated flow (the source of a REPLY entry). Pod-to-
 * pod packets, and everything a socket-translated connection sends, then cost a bit test instead
 * of two or three lookups in maps of megabytes. The agent mirrors the hash in agent/addr-filter.ts.
 *
 * IPv6 addresses share the bitmaps: their four words are XOR-folded into one and hashed as an IPv4
 * address. A collision between families only costs a lookup, never a miss.
 */
#ifndef SLUICE_LIB_ADDR_FILTER_H
#define SLUICE_LIB_ADDR_FILTER_H

#include "maps.h"

/*
 * Word index (within @kind's run) and bit of @addr (network order, read as the host's u32): the top
 * 19 bits of MurmurHash3's 32-bit finalizer. A plain multiplicative (Fibonacci) hash maps a densely
 * filled address range (sequential ClusterIPs) onto a lattice that other structured addresses hit
 * either never or always: with 100,000 ClusterIPs every simulated pod's folded IPv6 address did.
 */
static __always_inline __u32 addr_filter_slot(enum sl_addr_kind kind, __be32 addr, __u64 *bit)
{
	__u32 h = (__u32)addr;

	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	h >>= SL_ADDR_FILTER_SHIFT;

	*bit = 1ULL << (h & 63);
	return kind * SL_ADDR_FILTER_WORDS + (h >> 6);
}

/* 0 when @addr is certainly not of @kind; 1 when it may be (or the map cannot say). */
static __always_inline int addr_maybe(enum sl_addr_kind kind, __be32 addr)
{
	__u64 bit, *w;
	__u32 idx = addr_filter_slot(kind, addr, &bit);

	w = bpf_map_lookup_elem(&sl_addr_filter, &idx);
	return !w || (*w & bit);
}

/* Record @addr as of @kind, before the entry that needs it is written. Writes only a new bit. */
static __always_inline void addr_filter_add(enum sl_addr_kind kind, __be32 addr)
{
	__u64 bit, *w;
	__u32 idx = addr_filter_slot(kind, addr, &bit);

	w = bpf_map_lookup_elem(&sl_addr_filter, &idx);
	if (w && !(*w & bit))
		__sync_fetch_and_or(w, bit);
}

/* @addr's 128 bits folded to 32 (each __be32 word read as the host's u32, as addr_filter_slot does). */
static __always_inline __be32 addr_fold6(const __be32 *addr)
{
	return addr[0] ^ addr[1] ^ addr[2] ^ addr[3];
}

/* addr_maybe() for an IPv6 address (four __be32 words, e.g. a struct in6_addr's s6_addr32). */
static __always_inline int addr_maybe6(enum sl_addr_kind kind, const __be32 *addr)
{
	return addr_maybe(kind, addr_fold6(addr));
}

/* addr_filter_add() for an IPv6 address. */
static __always_inline void addr_filter_add6(enum sl_addr_kind kind, const __be32 *addr)
{
	addr_filter_add(kind, addr_fold6(addr));
}

#endif /* SLUICE_LIB_ADDR_FILTER_H */
