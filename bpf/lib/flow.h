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

#endif /* SLUICE_LIB_FLOW_H */
