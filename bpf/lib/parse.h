/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Ethernet + IPv4 + TCP/UDP parsing into struct flow, for tc (skb) and XDP. */
#ifndef SLUICE_LIB_PARSE_H
#define SLUICE_LIB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_MF			0x2000
#define IP_OFFSET		0x1fff
/* Largest IPv4 header: bounds the L4 offset for the verifier. */
#define L4_OFF_MAX		(sizeof(struct ethhdr) + 60)

#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_ACK	0x10

/* Parsed view of an IPv4 TCP/UDP packet; offsets are from the start of the frame. */
struct flow {
	__be32	saddr;
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	tcp_flags;	/* TCP flag byte (TCPF_*); 0 for UDP */
	__u16	l4_off;
	__u32	len;
};

/* A TCP handshake's first packet (SYN without ACK): the start of a new connection. */
static __always_inline int flow_is_syn(const struct flow *f)
{
	return (f->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

/*
 * Reads the Ethernet and IPv4 headers in [data, data_end) into @f's addresses, protocol and L4
 * offset. Returns 0 for an unfragmented IPv4 TCP/UDP packet, -1 for anything
 * the datapath leaves alone.
 */
static __always_inline int parse_l3(void *data, void *data_end, struct flow *f)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return -1;
	/* Later fragments carry no ports; conntrack cannot place them. */
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || ihl > 60)
		return -1;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->l4_off = sizeof(*eth) + ihl;
	return 0;
}

/*
 * Fills all of @f from an skb. Ports and TCP flags are read with a helper: the L4 header may lie
 * beyond the linear part. Returns 0, or -1 as parse_l3() does or when the L4 header is short.
 */
static __always_inline int parse_skb(struct __sk_buff *skb, struct flow *f)
{
	if (parse_l3((void *)(long)skb->data, (void *)(long)skb->data_end, f))
		return -1;
	f->len = skb->len;
	if (f->proto == IPPROTO_TCP) {
		__u8 hdr[14];

		if (bpf_skb_load_bytes(skb, f->l4_off, hdr, sizeof(hdr)))
			return -1;
		__builtin_memcpy(&f->sport, &hdr[0], 2);
		__builtin_memcpy(&f->dport, &hdr[2], 2);
		f->tcp_flags = hdr[13];
	} else {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, f->l4_off, ports, sizeof(ports)))
			return -1;
		f->sport = ports[0];
		f->dport = ports[1];
		f->tcp_flags = 0;
	}
	return 0;
}

/* Fills all of @f from an XDP frame, which is linear: ports and flags are read in place. Returns as parse_skb(). */
static __always_inline int parse_xdp(struct xdp_md *ctx, struct flow *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off;
	__u8 *l4;

	if (parse_l3(data, data_end, f))
		return -1;
	off = f->l4_off;
	if (off > L4_OFF_MAX)	/* for the verifier: parse_l3 bounds it */
		return -1;
	l4 = data + off;
	/* Ports for both; TCP's flags byte is the 14th. A short UDP datagram has only 8 bytes. */
	if ((void *)(l4 + 4) > data_end)
		return -1;
	f->tcp_flags = 0;
	if (f->proto == IPPROTO_TCP) {
		if ((void *)(l4 + 14) > data_end)
			return -1;
		f->tcp_flags = l4[13];
	}
	f->len = data_end - data;
	__builtin_memcpy(&f->sport, l4, 2);
	__builtin_memcpy(&f->dport, l4 + 2, 2);
	return 0;
}

#endif /* SLUICE_LIB_PARSE_H */
