/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* struct flow, the parsed view of a packet every library function takes (filled by parse.h). */
#ifndef SLUICE_LIB_FLOW_H
#define SLUICE_LIB_FLOW_H

#include <linux/types.h>

#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_ACK	0x10

/* Where a packet is in its datagram: only a whole datagram or a first fragment has an L4 header. */
enum flow_frag {
	FLOW_WHOLE = 0,
	FLOW_FRAG_FIRST,	/* offset 0, more to come: carries the ports (remembered, lib/frag.h) */
	FLOW_FRAG_LATER,	/* no L4 header: ports recalled from the first fragment */
};

/* Parsed view of an IPv4 TCP/UDP packet; offsets are from the start of the frame. */
struct flow {
	__be32	saddr;
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	tcp_flags;	/* TCP flag byte (TCPF_*); 0 for UDP and later fragments */
	__u16	l4_off;
	__u32	len;
	__be16	ip_id;		/* the IP identification, for fragments */
	__u8	frag;		/* enum flow_frag */
	__u8	pad;
};

/* A TCP handshake's first packet (SYN without ACK): the start of a new connection. */
static __always_inline int flow_is_syn(const struct flow *f)
{
	return (f->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

/* Whether @f's packet has its TCP/UDP header (ports, L4 checksum) to rewrite: not a later fragment. */
static __always_inline int flow_has_l4(const struct flow *f)
{
	return f->frag != FLOW_FRAG_LATER;
}

/*
 * Parsed view of an IPv6 TCP/UDP packet (filled by parse6.h): addresses as on the wire, so they
 * are copied into conntrack keys and compared as four words. Offsets are from the frame's start.
 */
struct flow6 {
	__be32	saddr[4];
	__be32	daddr[4];
	__be16	sport;
	__be16	dport;
	__u8	proto;		/* the upper-layer protocol after the extension headers */
	__u8	tcp_flags;	/* as struct flow's */
	__u16	l4_off;		/* the upper-layer header, past every extension header */
	__u32	len;
	__be32	frag_id;	/* the Fragment header's identification, for fragments */
	__u16	frag_off;	/* the Fragment header's offset, in 8-byte units (host order) */
	__u8	frag;		/* enum flow_frag */
	__u8	frag_more;	/* the Fragment header's M flag */
};

/* Whether two IPv6 addresses (as on the wire) are equal: four word compares, no loop. */
static __always_inline int ip6_eq(const __be32 *a, const __be32 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* Copy IPv6 address @src to @dst (word by word: both are 4-aligned). */
static __always_inline void ip6_copy(__be32 *dst, const __be32 *src)
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

/* Whether an IPv6 address is all zero (::, "not configured" in sl_config6). */
static __always_inline int ip6_is_zero(const __be32 *a)
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static __always_inline int flow6_is_syn(const struct flow6 *f)
{
	return (f->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

static __always_inline int flow6_has_l4(const struct flow6 *f)
{
	return f->frag != FLOW_FRAG_LATER;
}

#endif /* SLUICE_LIB_FLOW_H */
