/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about translated flows, translated as netfilter's conntrack does for kube-proxy: an
 * error quotes the packet it is about as that packet was when it failed, and a socket only
 * accepts an error whose quote matches its own addresses and ports.
 *
 *   towards the client (icmp_reverse_skb, tc egress to a pod or out of the external interface): a
 *     router or the backend's node quotes client -> backend ("fragmentation needed" on a smaller-
 *     MTU hop, port unreachable); the quote gets the service address back.
 *   towards the backend (icmp_ext_skb, from a pod or from outside): the client's
 *     side quotes a reply as the client got it, service -> client, and sends the error to the
 *     service address; it goes to the backend instead, quoting backend -> client.
 *   source-NATed flows (icmp_ext_skb): north-south, hairpin and pods' eTP Cluster ones: either
 *     way, the node's address and port stand for the client towards the backend, so the error is
 *     sent on, by this node, to the backend or to the client with the quote and both outer
 *     addresses as each expects.
 *
 * The quote's IP checksum, its TCP/UDP checksum (when quoted, and for UDP when not 0) and the ICMP
 * checksum are updated incrementally. Outer and quoted IP headers without options only.
 */
#ifndef SLUICE_LIB_ICMP_H
#define SLUICE_LIB_ICMP_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "conntrack.h"
#include "csum.h"

#define ICMP_ERR_DEST_UNREACH	3	/* port/host unreachable, fragmentation needed */
#define ICMP_ERR_TIME_EXCEEDED	11

struct icmp_err {
	__u8	type;
	__u8	code;
	__sum16	checksum;
	__be32	rest;		/* unused, or the next-hop MTU */
};

/* Where an ICMP error's parts are in the frame (no IP options, outside or in the quote). */
#define ICMP_OFF	(sizeof(struct ethhdr) + sizeof(struct iphdr))
#define QUOTE_OFF	(ICMP_OFF + sizeof(struct icmp_err))
#define QUOTE_L4_OFF	(QUOTE_OFF + sizeof(struct iphdr))

/* An ICMP error about a TCP/UDP packet, as loaded from the frame. */
struct icmp_err_pkt {
	struct iphdr	outer;
	struct icmp_err	icmp;
	struct iphdr	quote;
	__be16		sport, dport;	/* the quoted packet's */
	__u32		l4check_off;	/* where the quote's TCP/UDP checksum is; 0: not quoted, or UDP's "none" */
	__sum16		l4check;
};

/* What an error becomes: its outer addresses, and the quoted packet's addresses and ports. */
struct icmp_xlat {
	__be32	outer_saddr, outer_daddr;
	__be32	saddr, daddr;
	__be16	sport, dport;
};

/* What the external interface does with an ICMP error after icmp_ext_skb(). */
enum icmp_verdict {
	ICMP_PASS = 0,		/* untouched, or rewritten for the kernel to deliver */
	ICMP_FORWARD,		/* rewritten: send it from this node to its new destination */
	ICMP_DROP,		/* a rewrite failed */
};

/* Load @skb into @p when it is an ICMP error quoting a TCP/UDP packet. Returns 0, or -1 for anything else. */
static __always_inline int icmp_err_load(struct __sk_buff *skb, struct icmp_err_pkt *p)
{
	__be16 ports[2];
	__u32 off;

	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &p->outer, sizeof(p->outer)) ||
	    p->outer.protocol != IPPROTO_ICMP || p->outer.ihl != 5 || (p->outer.frag_off & bpf_htons(IP_OFFSET)))
		return -1;
	if (bpf_skb_load_bytes(skb, ICMP_OFF, &p->icmp, sizeof(p->icmp)) ||
	    (p->icmp.type != ICMP_ERR_DEST_UNREACH && p->icmp.type != ICMP_ERR_TIME_EXCEEDED))
		return -1;
	if (bpf_skb_load_bytes(skb, QUOTE_OFF, &p->quote, sizeof(p->quote)) || p->quote.ihl != 5 ||
	    (p->quote.protocol != IPPROTO_TCP && p->quote.protocol != IPPROTO_UDP) ||
	    bpf_skb_load_bytes(skb, QUOTE_L4_OFF, ports, sizeof(ports)))
		return -1;
	p->sport = ports[0];
	p->dport = ports[1];
	/* RFC 792 quotes 8 bytes: UDP's checksum always, TCP's (at 16) only from routers that quote more. */
	off = QUOTE_L4_OFF + (p->quote.protocol == IPPROTO_UDP ? 6 : 16);
	p->l4check_off = 0;
	if (!bpf_skb_load_bytes(skb, off, &p->l4check, sizeof(p->l4check)) &&
	    (p->quote.protocol == IPPROTO_TCP || p->l4check))
		p->l4check_off = off;
	return 0;
}

/* The conntrack entry in direction @dir of the flow the quoted packet answers (its reverse), or NULL. */
static __always_inline struct sl_ct_entry *icmp_err_flow(const struct icmp_err_pkt *p, enum sl_ct_dir dir)
{
	struct sl_ct_key key;

	ct_key_set(&key, p->quote.daddr, p->dport, p->quote.saddr, p->sport, p->quote.protocol, dir);
	return bpf_map_lookup_elem(&sl_ct, &key);
}

/* An outer address of @skb at @off changes from @from to @to (outer IP checksum). Returns 0 or -1. */
static __always_inline int icmp_outer_set(struct __sk_buff *skb, __u32 off, __be32 from, __be32 to)
{
	if (from == to)
		return 0;
	if (bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check), from, to, sizeof(to)) ||
	    bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0))
		return -1;
	return 0;
}

/* Rewrite the error @p (loaded from @skb) to @x, every checksum updated. Returns 0, or -1 when a write failed. */
static __always_inline int icmp_err_rewrite(struct __sk_buff *skb, const struct icmp_err_pkt *p, const struct icmp_xlat *x)
{
	const struct iphdr *q = &p->quote;
	__sum16 qcheck, icheck, l4check = p->l4check;
	__be32 addrs[2] = { x->saddr, x->daddr };
	__be16 ports[2] = { x->sport, x->dport };

	qcheck = csum_update32(q->check, q->saddr, x->saddr);
	qcheck = csum_update32(qcheck, q->daddr, x->daddr);
	/* The ICMP checksum covers the whole quote: addresses, ports, and both checksums in it. */
	icheck = csum_update32(p->icmp.checksum, q->saddr, x->saddr);
	icheck = csum_update32(icheck, q->daddr, x->daddr);
	icheck = csum_update16(icheck, p->sport, x->sport);
	icheck = csum_update16(icheck, p->dport, x->dport);
	icheck = csum_update16(icheck, q->check, qcheck);
	if (p->l4check_off) {
		/* The pseudo-header's addresses and the ports. */
		l4check = csum_update32(l4check, q->saddr, x->saddr);
		l4check = csum_update32(l4check, q->daddr, x->daddr);
		l4check = csum_update16(l4check, p->sport, x->sport);
		l4check = csum_update16(l4check, p->dport, x->dport);
		if (q->protocol == IPPROTO_UDP && !l4check)
			l4check = 0xffff;
		icheck = csum_update16(icheck, p->l4check, l4check);
	}
	if (icmp_outer_set(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, saddr), p->outer.saddr, x->outer_saddr) ||
	    icmp_outer_set(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, daddr), p->outer.daddr, x->outer_daddr) ||
	    bpf_skb_store_bytes(skb, QUOTE_OFF + offsetof(struct iphdr, saddr), addrs, sizeof(addrs), 0) ||
	    bpf_skb_store_bytes(skb, QUOTE_OFF + offsetof(struct iphdr, check), &qcheck, sizeof(qcheck), 0) ||
	    bpf_skb_store_bytes(skb, QUOTE_L4_OFF, ports, sizeof(ports), 0) ||
	    (p->l4check_off && bpf_skb_store_bytes(skb, p->l4check_off, &l4check, sizeof(l4check), 0)) ||
	    bpf_skb_store_bytes(skb, ICMP_OFF + offsetof(struct icmp_err, checksum), &icheck, sizeof(icheck), 0))
		return -1;
	return 0;
}

/* @x: @p left as it is (then changed field by field). */
static __always_inline void icmp_xlat_identity(struct icmp_xlat *x, const struct icmp_err_pkt *p)
{
	*x = (struct icmp_xlat){
		.outer_saddr = p->outer.saddr, .outer_daddr = p->outer.daddr, .saddr = p->quote.saddr,
		.daddr = p->quote.daddr, .sport = p->sport, .dport = p->dport,
	};
}

/*
 * tc, towards a client: if @skb is an ICMP error quoting a client -> backend packet of a flow
 * translated without source NAT, the quote's destination becomes the service address and port
 * (the flow's REPLY entry). Returns 0, or -1 when a write failed.
 */
static __always_inline int icmp_reverse_skb(struct __sk_buff *skb)
{
	struct icmp_err_pkt p;
	struct sl_ct_entry *ct;
	struct icmp_xlat x;

	if (icmp_err_load(skb, &p))
		return 0;
	ct = icmp_err_flow(&p, SL_CT_DIR_REPLY);
	if (!ct || (ct->flags & SL_CT_F_SNAT))
		return 0;
	icmp_xlat_identity(&x, &p);
	x.daddr = ct->nat_addr;
	x.dport = ct->nat_port;
	return icmp_err_rewrite(skb, &p, &x);
}

/*
 * An error about a reply (quoting service -> client) of a flow translated without source NAT
 * (SERVICE entry @ct): to the backend, quoting backend -> client.
 */
static __always_inline int icmp_to_backend(struct __sk_buff *skb, const struct icmp_err_pkt *p,
					   const struct sl_ct_entry *ct)
{
	struct icmp_xlat x;

	icmp_xlat_identity(&x, p);
	x.outer_daddr = ct->nat_addr;
	x.saddr = ct->nat_addr;
	x.sport = ct->nat_port;
	return icmp_err_rewrite(skb, p, &x);
}

/*
 * tc, arriving on the external interface or from a pod: an ICMP error about a translated flow.
 *   about a reply (SERVICE entry): to the backend (icmp_to_backend()); with source NAT, from
 *     this node's address, quoting backend -> the node's address and port (ICMP_FORWARD).
 *   about a packet this node source-NATed to a backend (REPLY entry; from outside, the packet went
 *     to another node's backend): from the service address to the client, quoting client ->
 *     service (ICMP_FORWARD).
 * Fills @saddr and @daddr, the addresses to route an ICMP_FORWARD by. Returns enum icmp_verdict.
 */
static __always_inline enum icmp_verdict icmp_ext_skb(struct __sk_buff *skb, __be32 *saddr, __be32 *daddr)
{
	struct icmp_err_pkt p;
	struct sl_ct_entry *ct;
	struct icmp_xlat x;

	if (icmp_err_load(skb, &p))
		return ICMP_PASS;
	icmp_xlat_identity(&x, &p);
	ct = icmp_err_flow(&p, SL_CT_DIR_SERVICE);
	if (ct && !(ct->flags & SL_CT_F_SNAT))
		return icmp_to_backend(skb, &p, ct) ? ICMP_DROP : ICMP_PASS;
	if (ct) {
		x.outer_saddr = ct->rev_addr;
		x.outer_daddr = ct->nat_addr;
		x.saddr = ct->nat_addr;
		x.sport = ct->nat_port;
		x.daddr = ct->rev_addr;
		x.dport = ct->rev_port;
	} else {
		ct = icmp_err_flow(&p, SL_CT_DIR_REPLY);
		if (!ct || !(ct->flags & SL_CT_F_SNAT))
			return ICMP_PASS;
		x.outer_saddr = ct->nat_addr;
		x.outer_daddr = ct->rev_addr;
		x.saddr = ct->rev_addr;
		x.sport = ct->rev_port;
		x.daddr = ct->nat_addr;
		x.dport = ct->nat_port;
	}
	if (icmp_err_rewrite(skb, &p, &x))
		return ICMP_DROP;
	*saddr = x.outer_saddr;
	*daddr = x.outer_daddr;
	return ICMP_FORWARD;
}

#endif /* SLUICE_LIB_ICMP_H */
