/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksums (RFC 1071) and their incremental update (RFC 1624), for code that writes bytes itself. */
#ifndef SLUICE_LIB_CSUM_H
#define SLUICE_LIB_CSUM_H

#include <linux/types.h>

/* Fold a 32-bit one's complement sum to 16 bits and complement it: the checksum field's value. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): checksum @csum after a field change, given @removed,
 * the sum of the old field's complemented 16-bit words, and @added, the sum of the new one's.
 */
static __always_inline __u16 csum_update(__u16 csum, __u32 removed, __u32 added)
{
	return csum_fold((__u16)~csum + removed + added);
}

/* @csum after a 32-bit field (an address) changes from @from to @to. */
static __always_inline __u16 csum_update32(__u16 csum, __u32 from, __u32 to)
{
	return csum_update(csum, (__u16)~from + (__u16)~(from >> 16), (__u16)to + (__u16)(to >> 16));
}

/* @csum after a 16-bit field (a port) changes from @from to @to. */
static __always_inline __u16 csum_update16(__u16 csum, __u16 from, __u16 to)
{
	return csum_update(csum, (__u16)~from, to);
}

/*
 * @csum after changes whose one's complement difference is @diff (what bpf_csum_diff() returns
 * for the old bytes against the new): IPv6's 16-byte addresses are diffed, not updated word by word.
 */
static __always_inline __u16 csum_apply_diff(__u16 csum, __u32 diff)
{
	__u64 sum = (__u64)(__u16)~csum + diff;

	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return csum_fold((__u32)sum);
}

#endif /* SLUICE_LIB_CSUM_H */
