/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMPv6 errors about translated flows, as icmp.h does IPv4's: an error quotes the packet it is
 * about as that packet was when it failed, and a socket only accepts an error whose quote matches
 * its own addresses and ports. Packet Too Big matters most (IPv6 routers never fragment: without
 * it a path with a smaller MTU is a black hole), then destination unreachable and time exceeded.
 *
 *   towards the client (icmp6_reverse_skb): the quote client -> backend gets the service address.
 *   towards the backend (icmp6_ext_skb): a quote of a reply as the client got it (service ->
 *     client) becomes backend -> client, and the error goes to the backend; source-NATed flows
 *     either way are sent on by this node (ICMP_FORWARD) with both outer addresses as each expects.
 *
 * Unlike ICMP's, the ICMPv6 checksum covers a pseudo-header with the outer addresses, so changing
 * those changes it too. The quote's TCP/UDP checksum is updated when quoted. The quoted packet
 * must have no extension headers (the TCP/UDP header right after its IPv6 header).
 */
#ifndef SLUICE_LIB_ICMP6_H
#define SLUICE_LIB_ICMP6_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "csum.h"
#include "ct6.h"
#include "icmp.h"

#define ICMP6_DEST_UNREACH	1	/* codes: 4 port unreachable, ... */
#define ICMP6_PKT_TOOBIG	2	/* the 32-bit field is the next hop's MTU */
#define ICMP6_TIME_EXCEED	3
#define ICMP6_PORT_UNREACH	4

/* An ICMPv6 error quoting a TCP/UDP packet, as loaded from the frame. Pairs of fields are contiguous for bpf_csum_diff(). */
struct icmp6_err_pkt {
	__be32	outer_saddr[4];
	__be32	outer_daddr[4];
	__be32	saddr[4];	/* the quoted packet's */
	__be32	daddr[4];
	__be16	sport, dport;
	__u32	icmp_off;
	__u32	l4check_off;	/* 0: the quote's TCP/UDP checksum is not quoted */
	__sum16	icmp_check;
	__sum16	l4check;
	__u8	proto;
	__u8	pad[3];
};

/* What an error becomes, laid out as the first fields of struct icmp6_err_pkt. */
struct icmp6_xlat {
	__be32	outer_saddr[4];
	__be32	outer_daddr[4];
	__be32	saddr[4];
	__be32	daddr[4];
	__be16	sport, dport;
};

/* Where the quote starts: after the ICMPv6 header (type, code, checksum, 32 bits). */
#define ICMP6_QUOTE(p)		((p)->icmp_off + 8)

/* Load @skb (parsed as @f, an ICMPv6 message) into @p when it is an error quoting TCP/UDP. Returns 0, or -1. */
static __always_inline int icmp6_err_load(struct __sk_buff *skb, const struct flow6 *f, struct icmp6_err_pkt *p)
{
	__u8 icmp[4], nh;
	__u32 q, off;

	p->icmp_off = f->l4_off;
	if (p->icmp_off > L4_OFF6_MAX || bpf_skb_load_bytes(skb, p->icmp_off, icmp, sizeof(icmp)))
		return -1;
	if (icmp[0] != ICMP6_DEST_UNREACH && icmp[0] != ICMP6_PKT_TOOBIG && icmp[0] != ICMP6_TIME_EXCEED)
		return -1;
	__builtin_memcpy(&p->icmp_check, &icmp[2], 2);
	q = ICMP6_QUOTE(p);
	if (bpf_skb_load_bytes(skb, q + 6, &nh, 1) || (nh != IPPROTO_TCP && nh != IPPROTO_UDP) ||
	    bpf_skb_load_bytes(skb, q + 8, p->saddr, 32) ||
	    bpf_skb_load_bytes(skb, q + IP6_HLEN, &p->sport, 4))
		return -1;
	p->proto = nh;
	ip6_copy(p->outer_saddr, f->saddr);
	ip6_copy(p->outer_daddr, f->daddr);
	/* UDP's checksum is in the first 8 bytes; TCP's (at 16) only when more is quoted. */
	off = q + IP6_HLEN + (nh == IPPROTO_UDP ? 6 : 16);
	p->l4check_off = 0;
	if (!bpf_skb_load_bytes(skb, off, &p->l4check, sizeof(p->l4check)) && (nh == IPPROTO_TCP || p->l4check))
		p->l4check_off = off;
	return 0;
}

/* The sl_ct6 entry in direction @dir of the flow the quoted packet answers (its reverse), or NULL. */
static __always_inline struct sl_ct6_entry *icmp6_err_flow(const struct icmp6_err_pkt *p, enum sl_ct_dir dir)
{
	struct sl_ct6_key key;

	ct6_key_set(&key, p->daddr, p->dport, p->saddr, p->sport, p->proto, dir);
	return bpf_map_lookup_elem(&sl_ct6, &key);
}

static __always_inline void icmp6_xlat_identity(struct icmp6_xlat *x, const struct icmp6_err_pkt *p)
{
	__builtin_memcpy(x, p, sizeof(*x));
}

/* Rewrite the error @p (loaded from @skb) to @x, every checksum updated. Returns 0, or -1 when a write failed. */
static __always_inline int icmp6_err_rewrite(struct __sk_buff *skb, struct icmp6_err_pkt *p, struct icmp6_xlat *x)
{
	__u32 q = ICMP6_QUOTE(p);
	__sum16 icheck, l4check = p->l4check;
	__s64 l4diff, diff;

	/* The quote's own TCP/UDP checksum: its pseudo-header's addresses, and the ports. */
	l4diff = bpf_csum_diff(p->saddr, 32, x->saddr, 32, 0);
	l4diff = bpf_csum_diff((__be32 *)&p->sport, 4, (__be32 *)&x->sport, 4, (__u32)l4diff);
	/* The ICMPv6 checksum: the outer pseudo-header's addresses, and the whole quote. */
	diff = bpf_csum_diff(p->outer_saddr, 32, x->outer_saddr, 32, (__u32)l4diff);
	if (l4diff < 0 || diff < 0)
		return -1;
	icheck = csum_apply_diff(p->icmp_check, (__u32)diff);
	if (p->l4check_off) {
		l4check = csum_apply_diff(p->l4check, (__u32)l4diff);
		if (p->proto == IPPROTO_UDP && !l4check)
			l4check = 0xffff;
		icheck = csum_update16(icheck, p->l4check, l4check);
	}
	if (bpf_skb_store_bytes(skb, IP6_SADDR_OFF, x->outer_saddr, 32, 0) ||
	    bpf_skb_store_bytes(skb, q + 8, x->saddr, 32, 0) ||
	    bpf_skb_store_bytes(skb, q + IP6_HLEN, &x->sport, 4, 0) ||
	    (p->l4check_off && bpf_skb_store_bytes(skb, p->l4check_off, &l4check, sizeof(l4check), 0)) ||
	    bpf_skb_store_bytes(skb, p->icmp_off + 2, &icheck, sizeof(icheck), 0))
		return -1;
	return 0;
}

/*
 * tc, towards a client: if @skb (parsed as @f) is an ICMPv6 error quoting a client -> backend
 * packet of a flow translated without source NAT, the quote's destination becomes the service
 * address and port (the flow's REPLY entry). Returns 0, or -1 when a write failed.
 */
static __always_inline int icmp6_reverse_skb(struct __sk_buff *skb, const struct flow6 *f)
{
	struct icmp6_err_pkt p;
	struct sl_ct6_entry *ct;
	struct icmp6_xlat x;

	if (icmp6_err_load(skb, f, &p))
		return 0;
	ct = icmp6_err_flow(&p, SL_CT_DIR_REPLY);
	if (!ct || (ct->flags & SL_CT_F_SNAT))
		return 0;
	icmp6_xlat_identity(&x, &p);
	ip6_copy(x.daddr, ct->nat_addr);
	x.dport = ct->nat_port;
	return icmp6_err_rewrite(skb, &p, &x);
}

/*
 * tc, from a pod (or arriving from outside): an ICMPv6 error about a translated flow.
 *   about a reply (SERVICE entry), no source NAT: to the backend, quoting backend -> client
 *     (ICMP_PASS: the kernel routes it); with source NAT, from this node's address, quoting
 *     backend -> the node's address and port (ICMP_FORWARD).
 *   about a packet this node source-NATed to a backend (REPLY entry): from the service address
 *     to the client, quoting client -> service (ICMP_FORWARD).
 * Fills @saddr and @daddr, the addresses to route an ICMP_FORWARD by. Returns enum icmp_verdict.
 */
static __always_inline enum icmp_verdict icmp6_ext_skb(struct __sk_buff *skb, const struct flow6 *f,
						       __be32 *saddr, __be32 *daddr)
{
	struct icmp6_err_pkt p;
	struct sl_ct6_entry *ct;
	struct icmp6_xlat x;
	int fwd = 1;

	if (icmp6_err_load(skb, f, &p))
		return ICMP_PASS;
	icmp6_xlat_identity(&x, &p);
	ct = icmp6_err_flow(&p, SL_CT_DIR_SERVICE);
	if (ct && !(ct->flags & SL_CT_F_SNAT)) {
		ip6_copy(x.outer_daddr, ct->nat_addr);
		ip6_copy(x.saddr, ct->nat_addr);
		x.sport = ct->nat_port;
		fwd = 0;
	} else if (ct) {
		ip6_copy(x.outer_saddr, ct->rev_addr);
		ip6_copy(x.outer_daddr, ct->nat_addr);
		ip6_copy(x.saddr, ct->nat_addr);
		x.sport = ct->nat_port;
		ip6_copy(x.daddr, ct->rev_addr);
		x.dport = ct->rev_port;
	} else {
		ct = icmp6_err_flow(&p, SL_CT_DIR_REPLY);
		if (!ct || !(ct->flags & SL_CT_F_SNAT))
			return ICMP_PASS;
		ip6_copy(x.outer_saddr, ct->nat_addr);
		ip6_copy(x.outer_daddr, ct->rev_addr);
		ip6_copy(x.saddr, ct->rev_addr);
		x.sport = ct->rev_port;
		ip6_copy(x.daddr, ct->nat_addr);
		x.dport = ct->nat_port;
	}
	if (icmp6_err_rewrite(skb, &p, &x))
		return ICMP_DROP;
	if (!fwd)
		return ICMP_PASS;
	ip6_copy(saddr, x.outer_saddr);
	ip6_copy(daddr, x.outer_daddr);
	return ICMP_FORWARD;
}

#endif /* SLUICE_LIB_ICMP6_H */
