/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Answers sent by the datapath itself, back where a packet came from: for a frontend without
 * endpoints, ICMPv6 port unreachable (kube-proxy's REJECT answers icmp6-port-unreachable) or, to a
 * TCP SYN, a RST (reject6_skb() says why); and Packet Too Big for a packet we redirect that is
 * larger than the egress MTU (the kernel's forwarding would have sent it; redirected, it is ours).
 */
#ifndef SLUICE_LIB_REJECT6_H
#define SLUICE_LIB_REJECT6_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "counters.h"
#include "eth.h"
#include "csum.h"
#include "icmp6.h"
#include "parse6.h"

/* How much of the offending packet an error quotes: its IPv6 header and what follows, up to this. */
#define ICMP6_QUOTE_MAX		128

struct icmp6_err_hdr {
	struct ip6_fixed ip6;
	/* ICMPv6 header */
	__u8	type;
	__u8	code;
	__sum16	check;
	__be32	info;		/* unused, or Packet Too Big's MTU */
};

/*
 * Answer @skb (parsed as @f) with ICMPv6 @type/@code (@info: the MTU of Packet Too Big), from
 * @f's destination to its source, quoting the start of the packet (RFC 4443 asks for as much as
 * fits; a stack needs the headers up to the ports, and a TCP one the sequence number). The frame
 * is rewritten in place, then sent back out of the interface it came in on.
 * Returns the redirect, or -1 when the answer could not be built.
 */
static __always_inline int icmp6_send_skb(struct __sk_buff *skb, const struct flow6 *f, __u8 type, __u8 code,
					  __u32 info)
{
	__u8 quote[ICMP6_QUOTE_MAX + 4] = {};	/* + 4: the checksum reads the quote rounded up to 4 bytes */
	struct icmp6_err_hdr h = {};
	__be32 pseudo[2];
	struct ethhdr eth;
	/* 64-bit, so the bound below holds for the register the helper gets (no 32-bit copy). */
	__u64 qlen = skb->len, plen;
	__s64 sum;

	if (qlen < sizeof(eth) + IP6_HLEN)
		return -1;
	qlen -= sizeof(eth);
	if (qlen > ICMP6_QUOTE_MAX)
		qlen = ICMP6_QUOTE_MAX;
	if (qlen < IP6_HLEN || bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) ||
	    bpf_skb_load_bytes(skb, sizeof(eth), quote, qlen))
		return -1;
	plen = 8 + qlen;
	h.ip6.vtc_flow = bpf_htonl(0x60000000);
	h.ip6.payload_len = bpf_htons(plen);
	h.ip6.nexthdr = NEXTHDR_ICMP6;
	h.ip6.hop_limit = 64;
	ip6_copy(h.ip6.saddr, f->daddr);
	ip6_copy(h.ip6.daddr, f->saddr);
	h.type = type;
	h.code = code;
	h.info = bpf_htonl(info);
	/* Pseudo-header (addresses, upper-layer length, next header), the ICMPv6 header, the quote zero-padded to 4. */
	pseudo[0] = bpf_htonl(plen);
	pseudo[1] = bpf_htonl(NEXTHDR_ICMP6);
	sum = bpf_csum_diff(NULL, 0, h.ip6.saddr, 32, 0);
	sum = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), (__u32)sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.type, 8, (__u32)sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)quote, (qlen + 3) & ~3U, (__u32)sum);
	if (sum < 0)
		return -1;
	h.check = csum_fold((__u32)sum);

	eth_swap(&eth);
	if (bpf_skb_change_tail(skb, sizeof(eth) + sizeof(h) + qlen, 0) ||
	    bpf_skb_store_bytes(skb, sizeof(eth) + sizeof(h), quote, qlen, 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) ||
	    bpf_skb_store_bytes(skb, sizeof(eth), &h, sizeof(h), BPF_F_INVALIDATE_HASH))
		return -1;
	/* ifindex of the host-side veth: egress there is ingress into the pod. */
	return bpf_redirect(skb->ifindex, 0);
}

/* A TCP RST answering a SYN: IPv6 header, then a TCP header without options. */
struct tcp6_rst {
	struct ip6_fixed ip6;
	__be16	source;
	__be16	dest;
	__be32	seq;
	__be32	ack_seq;
	__u8	doff;		/* data offset << 4 */
	__u8	flags;		/* TCPF_* */
	__be16	window;
	__sum16	check;
	__be16	urg_ptr;
};

/*
 * Answer the TCP SYN @skb (parsed as @f) with a RST from its destination, acknowledging it (RFC
 * 9293: seq 0, ack = its sequence + SYN + data): the client's connect() fails with ECONNREFUSED.
 * Returns the redirect, or -1 when the answer could not be built.
 */
static __always_inline int tcp6_reset_skb(struct __sk_buff *skb, const struct flow6 *f)
{
	struct tcp6_rst r = {};
	struct ethhdr eth;
	__be32 pseudo[2], seq;
	__u8 doff;
	__s64 sum;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) ||
	    bpf_skb_load_bytes(skb, f->l4_off + 4, &seq, sizeof(seq)) ||
	    bpf_skb_load_bytes(skb, f->l4_off + 12, &doff, sizeof(doff)))
		return -1;
	r.ip6.vtc_flow = bpf_htonl(0x60000000);
	r.ip6.payload_len = bpf_htons(20);
	r.ip6.nexthdr = IPPROTO_TCP;
	r.ip6.hop_limit = 64;
	ip6_copy(r.ip6.saddr, f->daddr);
	ip6_copy(r.ip6.daddr, f->saddr);
	r.source = f->dport;
	r.dest = f->sport;
	r.ack_seq = bpf_htonl(bpf_ntohl(seq) + 1 + (f->len - f->l4_off - (doff >> 4) * 4));
	r.doff = 5 << 4;
	r.flags = TCPF_RST | TCPF_ACK;
	pseudo[0] = bpf_htonl(20);
	pseudo[1] = bpf_htonl(IPPROTO_TCP);
	sum = bpf_csum_diff(NULL, 0, r.ip6.saddr, 32, 0);
	sum = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), (__u32)sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.source, 20, (__u32)sum);
	if (sum < 0)
		return -1;
	r.check = csum_fold((__u32)sum);

	eth_swap(&eth);
	if (bpf_skb_change_tail(skb, sizeof(eth) + sizeof(r), 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) ||
	    bpf_skb_store_bytes(skb, sizeof(eth), &r, sizeof(r), BPF_F_INVALIDATE_HASH))
		return -1;
	return bpf_redirect(skb->ifindex, 0);
}

/*
 * Refuse @skb (parsed as @f), from a pod: the client's connect() or send() fails at once. ICMPv6
 * port unreachable (kube-proxy's REJECT), except for a TCP SYN, which gets a RST: the SYN is sent
 * from inside connect(), whose socket lock is still held when an answer made here arrives (the
 * same softirq), and Linux's IPv6 TCP drops an ICMPv6 error for a locked socket (LockDroppedIcmps)
 * unless the socket asked for IPV6_RECVERR: the client would wait for the SYN's retransmission, a
 * second. A RST waits in the socket's backlog instead, and refuses the connection when connect()
 * lets go of it. Returns the redirect (SL_CNT_REJECT), or TC_ACT_SHOT (SL_CNT_REJECT_FAIL when
 * the answer could not be built).
 */
static __always_inline int reject6_skb(struct __sk_buff *skb, const struct flow6 *f)
{
	int rc;

	if (!flow6_has_l4(f))
		return TC_ACT_SHOT;	/* a later fragment: its first one was answered */
	if (f->proto == IPPROTO_TCP && flow6_is_syn(f))
		rc = tcp6_reset_skb(skb, f);
	else
		rc = icmp6_send_skb(skb, f, ICMP6_DEST_UNREACH, ICMP6_PORT_UNREACH, 0);
	if (rc < 0) {
		count(SL_CNT_REJECT_FAIL);
		return TC_ACT_SHOT;
	}
	count(SL_CNT_REJECT);
	return rc;
}

#endif /* SLUICE_LIB_REJECT6_H */
