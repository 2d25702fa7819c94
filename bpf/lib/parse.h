/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ethernet + IPv4 + TCP/UDP parsing into struct flow (flow.h), for tc (skb) and XDP. Fragments
 * are parsed too: a first one's ports are remembered, a later one's recalled (frag.h).
 */
#ifndef SLUICE_LIB_PARSE_H
#define SLUICE_LIB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flow.h"
#include "frag.h"

#define IP_MF			0x2000
#define IP_OFFSET		0x1fff
/* Largest IPv4 header: bounds the L4 offset for the verifier. */
#define L4_OFF_MAX		(sizeof(struct ethhdr) + 60)

/*
 * Reads the Ethernet and IPv4 headers in [data, data_end) into @f's addresses, protocol, L4
 * offset and place in its datagram (enum flow_frag). Returns PARSE_OK for an IPv4 TCP/UDP packet
 * or fragment, PARSE_SKIP for anything the datapath leaves alone.
 */
static __always_inline int parse_l3(void *data, void *data_end, struct flow *f)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_SKIP;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return PARSE_SKIP;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return PARSE_SKIP;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || ihl > 60)
		return PARSE_SKIP;
	f->frag = FLOW_WHOLE;
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		f->frag = FLOW_FRAG_LATER;
	else if (ip->frag_off & bpf_htons(IP_MF))
		f->frag = FLOW_FRAG_FIRST;
	f->ip_id = ip->id;
	f->pad = 0;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->l4_off = sizeof(*eth) + ihl;
	return PARSE_OK;
}

/*
 * Fills all of @f from an skb. Ports and TCP flags are read with a helper: the L4 header may lie
 * beyond the linear part; a later fragment's ports come from its first (frag_recall()).
 * Returns PARSE_OK; PARSE_SKIP as parse_l3() does or when the L4 header is short; PARSE_DROP
 * for a later fragment whose first was not seen.
 */
static __always_inline int parse_skb(struct __sk_buff *skb, struct flow *f)
{
	if (parse_l3((void *)(long)skb->data, (void *)(long)skb->data_end, f))
		return PARSE_SKIP;
	f->len = skb->len;
	if (f->frag == FLOW_FRAG_LATER)
		return frag_recall(f);
	if (f->proto == IPPROTO_TCP) {
		__u8 hdr[14];

		if (bpf_skb_load_bytes(skb, f->l4_off, hdr, sizeof(hdr)))
			return PARSE_SKIP;
		__builtin_memcpy(&f->sport, &hdr[0], 2);
		__builtin_memcpy(&f->dport, &hdr[2], 2);
		f->tcp_flags = hdr[13];
	} else {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, f->l4_off, ports, sizeof(ports)))
			return PARSE_SKIP;
		f->sport = ports[0];
		f->dport = ports[1];
		f->tcp_flags = 0;
	}
	if (f->frag == FLOW_FRAG_FIRST)
		frag_remember(f);
	return PARSE_OK;
}

/* Fills all of @f from an XDP frame, which is linear: ports and flags are read in place. Returns as parse_skb(). */
static __always_inline int parse_xdp(struct xdp_md *ctx, struct flow *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off;
	__u8 *l4;

	if (parse_l3(data, data_end, f))
		return PARSE_SKIP;
	f->len = data_end - data;
	if (f->frag == FLOW_FRAG_LATER)
		return frag_recall(f);
	off = f->l4_off;
	if (off > L4_OFF_MAX)	/* for the verifier: parse_l3 bounds it */
		return PARSE_SKIP;
	l4 = data + off;
	/* Ports for both; TCP's flags byte is the 14th. A short UDP datagram has only 8 bytes. */
	if ((void *)(l4 + 4) > data_end)
		return PARSE_SKIP;
	f->tcp_flags = 0;
	if (f->proto == IPPROTO_TCP) {
		if ((void *)(l4 + 14) > data_end)
			return PARSE_SKIP;
		f->tcp_flags = l4[13];
	}
	__builtin_memcpy(&f->sport, l4, 2);
	__builtin_memcpy(&f->dport, l4 + 2, 2);
	if (f->frag == FLOW_FRAG_FIRST)
		frag_remember(f);
	return PARSE_OK;
}

#endif /* SLUICE_LIB_PARSE_H */
