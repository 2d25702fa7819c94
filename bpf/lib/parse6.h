/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ethernet + IPv6 + TCP/UDP parsing into struct flow6 (flow.h), for tc (skb) and XDP, with one
 * walk for both: every read goes through sl_load(), a helper call that works whether or not the
 * bytes are in the linear part, so the walk needs no packet-pointer bounds per header.
 *
 * Extension headers are walked, at most IP6_EXT_MAX of them (a bounded loop the verifier unrolls):
 * hop-by-hop, routing and destination options are skipped by their length; the Fragment header's
 * identification, offset and M flag go into the flow (fragments are placed as frag6.h says). AH,
 * ESP, "no next header", an unknown header or a longer chain: not ours, the packet is passed.
 */
#ifndef SLUICE_LIB_PARSE6_H
#define SLUICE_LIB_PARSE6_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "flow.h"
#include "frag6.h"

/* Next-header values (RFC 8200); linux/in6.h's names need more of libc than the BPF target has. */
#define NEXTHDR_HOP		0
#define NEXTHDR_TCP		6
#define NEXTHDR_UDP		17
#define NEXTHDR_ROUTING		43
#define NEXTHDR_FRAGMENT	44
#define NEXTHDR_ICMP6		58
#define NEXTHDR_DEST		60

#define IP6_HLEN		40

/* The fixed IPv6 header (RFC 8200), addresses as words: read in place and built by the library. */
struct ip6_fixed {
	__be32	vtc_flow;
	__be16	payload_len;
	__u8	nexthdr;
	__u8	hop_limit;
	__be32	saddr[4];
	__be32	daddr[4];
};
#define IP6_OFF			sizeof(struct ethhdr)
#define IP6_SADDR_OFF		(IP6_OFF + 8)
#define IP6_DADDR_OFF		(IP6_OFF + 24)
/* Extension headers walked before a packet is left alone: real traffic has one or two. */
#define IP6_EXT_MAX		4
/* The furthest upper-layer header we handle: bounds offsets for the verifier (XDP in-place writes). */
#define L4_OFF6_MAX		512

/* parse6_*() also return this: an ICMPv6 message, f->l4_off at its header (addresses filled). */
#define PARSE6_ICMP		1

/* Read @len bytes at @off of an skb (@xdp 0) or an XDP frame (@xdp 1); @xdp is a constant. */
static __always_inline int sl_load(void *ctx, int xdp, __u32 off, void *to, __u32 len)
{
	return xdp ? bpf_xdp_load_bytes(ctx, off, to, len) : bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * Reads the Ethernet and IPv6 headers and walks the extension headers into @f's addresses,
 * protocol, upper-layer offset and place in its datagram. Returns PARSE_OK for TCP/UDP (a whole
 * datagram or a fragment), PARSE6_ICMP for ICMPv6 (not a later fragment), PARSE_SKIP otherwise.
 */
static __always_inline int parse6_l3(void *ctx, int xdp, struct flow6 *f)
{
	/* The EtherType and the IPv6 header's first 8 bytes (next header at 6 + 2), in one read. */
	struct {
		__be16	h_proto;
		__be32	vtc_flow;
		__be16	payload_len;
		__u8	nexthdr;
		__u8	hop_limit;
	} __attribute__((packed)) h;
	__u32 off = IP6_OFF + IP6_HLEN;
	__u8 nh;
	int i;

	if (sl_load(ctx, xdp, offsetof(struct ethhdr, h_proto), &h, sizeof(h)) || h.h_proto != bpf_htons(ETH_P_IPV6))
		return PARSE_SKIP;
	nh = h.nexthdr;
	/* saddr and daddr are contiguous in struct flow6 as in the header. */
	if (sl_load(ctx, xdp, IP6_SADDR_OFF, f->saddr, 32))
		return PARSE_SKIP;
	f->frag = FLOW_WHOLE;
	f->frag_id = 0;
	f->frag_off = 0;
	f->frag_more = 0;
#pragma unroll
	for (i = 0; i < IP6_EXT_MAX; i++) {
		__u8 hdr[8];

		if (nh == NEXTHDR_TCP || nh == NEXTHDR_UDP || nh == NEXTHDR_ICMP6)
			break;
		if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST) {
			if (sl_load(ctx, xdp, off, hdr, 2))
				return PARSE_SKIP;
			nh = hdr[0];
			off += ((__u32)hdr[1] + 1) * 8;
		} else if (nh == NEXTHDR_FRAGMENT) {
			__u16 fo;

			if (sl_load(ctx, xdp, off, hdr, 8))
				return PARSE_SKIP;
			nh = hdr[0];
			fo = ((__u16)hdr[2] << 8) | hdr[3];
			f->frag_off = fo >> 3;
			f->frag_more = fo & 1;
			__builtin_memcpy(&f->frag_id, &hdr[4], 4);
			off += 8;
			/* A later fragment's Next Header names its datagram's; no header of it follows. */
			if (f->frag_off) {
				f->frag = FLOW_FRAG_LATER;
				break;
			}
			if (f->frag_more)
				f->frag = FLOW_FRAG_FIRST;
		} else {
			return PARSE_SKIP;	/* AH, ESP, no next header, unknown */
		}
		if (off > L4_OFF6_MAX)
			return PARSE_SKIP;
	}
	if (off > L4_OFF6_MAX)
		return PARSE_SKIP;
	f->proto = nh;
	f->l4_off = off;
	f->tcp_flags = 0;
	f->sport = 0;
	f->dport = 0;
	if (nh == NEXTHDR_TCP || nh == NEXTHDR_UDP)
		return PARSE_OK;
	if (nh == NEXTHDR_ICMP6 && f->frag != FLOW_FRAG_LATER)
		return PARSE6_ICMP;
	return PARSE_SKIP;
}

/*
 * Fills all of @f from an skb (@xdp 0) or an XDP frame (@xdp 1) of @len bytes: ports and TCP flags
 * after parse6_l3(); a first fragment's ports are remembered, a later one's recalled. Returns
 * PARSE_OK, PARSE6_ICMP, PARSE_SKIP (as parse6_l3(), or a short L4 header), or PARSE_DROP for a
 * later fragment whose first was not seen.
 */
static __always_inline int parse6_ctx(void *ctx, int xdp, __u32 len, struct flow6 *f)
{
	__u8 hdr[14];
	int rc = parse6_l3(ctx, xdp, f);

	f->len = len;
	if (rc != PARSE_OK)
		return rc;
	if (f->frag == FLOW_FRAG_LATER)
		return frag6_recall(f);
	/* Ports for both; TCP's flags byte is the 14th. A short UDP datagram has only 8 bytes. */
	if (sl_load(ctx, xdp, f->l4_off, hdr, f->proto == NEXTHDR_TCP ? 14 : 4))
		return PARSE_SKIP;
	__builtin_memcpy(&f->sport, &hdr[0], 2);
	__builtin_memcpy(&f->dport, &hdr[2], 2);
	if (f->proto == NEXTHDR_TCP)
		f->tcp_flags = hdr[13];
	if (f->frag == FLOW_FRAG_FIRST)
		frag6_remember(f);
	return PARSE_OK;
}

static __always_inline int parse6_skb(struct __sk_buff *skb, struct flow6 *f)
{
	return parse6_ctx(skb, 0, skb->len, f);
}

static __always_inline int parse6_xdp(struct xdp_md *ctx, struct flow6 *f)
{
	return parse6_ctx(ctx, 1, ctx->data_end - ctx->data, f);
}

#endif /* SLUICE_LIB_PARSE6_H */
