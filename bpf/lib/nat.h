/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address translation: rewriting a packet's addresses and ports to a struct nat_tuple with
 * incremental checksum updates (skb through helpers, XDP in place), and the reverse NAT of replies.
 */
#ifndef SLUICE_LIB_NAT_H
#define SLUICE_LIB_NAT_H

#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stddef.h>

#include "conntrack.h"
#include "csum.h"
#include "icmp.h"

/* What a packet's addresses and ports become. */
struct nat_tuple {
	__be32	saddr, daddr;
	__be16	sport, dport;
};

/* @f's own addresses and ports: the translation that changes nothing. */
static __always_inline void nat_identity(struct nat_tuple *n, const struct flow *f)
{
	n->saddr = f->saddr;
	n->daddr = f->daddr;
	n->sport = f->sport;
	n->dport = f->dport;
}

/*
 * Rewrite one address and one port (source or destination, @dst) of @skb and fix the IP and
 * L4 checksums incrementally. BPF_F_PSEUDO_HDR makes the helper also handle CHECKSUM_PARTIAL
 * packets from a local stack correctly. Returns 0, or -1 when a helper failed (drop it).
 */
static __always_inline int nat_rewrite_skb(struct __sk_buff *skb, const struct flow *f, int dst,
					   __be32 old_addr, __be32 new_addr, __be16 old_port, __be16 new_port)
{
	__u32 addr_off = sizeof(struct ethhdr) + (dst ? offsetof(struct iphdr, daddr)
						      : offsetof(struct iphdr, saddr));
	__u32 port_off = f->l4_off + (dst ? offsetof(struct tcphdr, dest)
					  : offsetof(struct tcphdr, source));
	__u32 csum_off, l4flags = 0;

	if (!flow_has_l4(f))
		return frag_rewrite_skb(skb, addr_off, old_addr, new_addr);
	if (f->proto == IPPROTO_TCP) {
		csum_off = f->l4_off + offsetof(struct tcphdr, check);
	} else {
		csum_off = f->l4_off + offsetof(struct udphdr, check);
		/* UDP checksum 0 means "none" and must stay so. */
		l4flags = BPF_F_MARK_MANGLED_0;
	}

	if (bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
				l4flags | BPF_F_PSEUDO_HDR | sizeof(new_addr)))
		return -1;
	if (old_port != new_port &&
	    bpf_l4_csum_replace(skb, csum_off, old_port, new_port, l4flags | sizeof(new_port)))
		return -1;
	if (bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check),
				old_addr, new_addr, sizeof(new_addr)))
		return -1;
	if (bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0))
		return -1;
	if (old_port != new_port &&
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/* Translate @skb (parsed as @f) to @n: each side that changes. Returns 0, or -1 (drop it). */
static __always_inline int nat_skb(struct __sk_buff *skb, const struct flow *f, const struct nat_tuple *n)
{
	if ((n->saddr != f->saddr || n->sport != f->sport) &&
	    nat_rewrite_skb(skb, f, 0, f->saddr, n->saddr, f->sport, n->sport))
		return -1;
	if ((n->daddr != f->daddr || n->dport != f->dport) &&
	    nat_rewrite_skb(skb, f, 1, f->daddr, n->daddr, f->dport, n->dport))
		return -1;
	return 0;
}

/*
 * Translate an XDP frame (parsed as @f) to @n. XDP frames are linear and ours to write: rewrite
 * in place with incremental checksums. Returns 0, or -1 when the headers are not all in the frame.
 */
static __always_inline int nat_xdp(struct xdp_md *ctx, const struct flow *f, const struct nat_tuple *n)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__u16 *l4csum = NULL, csum;
	__be16 *ports;
	__u32 l4_off = f->l4_off;

	if ((void *)(ip + 1) > data_end)
		return -1;
	if (!flow_has_l4(f)) {
		frag_rewrite_xdp(ip, n->saddr, n->daddr);
		return 0;
	}
	/* The verifier needs a constant bound on the variable L4 offset. */
	if (l4_off > L4_OFF_MAX)
		return -1;
	ports = data + l4_off;
	if ((void *)(ports + 2) > data_end)
		return -1;
	if (f->proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)ports;

		if ((void *)(th + 1) > data_end)
			return -1;
		l4csum = &th->check;
	} else {
		struct udphdr *uh = (void *)ports;

		if ((void *)(uh + 1) > data_end)
			return -1;
		if (uh->check)
			l4csum = &uh->check;
	}

	ip->check = csum_update32(ip->check, ip->saddr, n->saddr);
	ip->check = csum_update32(ip->check, ip->daddr, n->daddr);
	if (l4csum) {
		csum = *l4csum;
		csum = csum_update32(csum, ip->saddr, n->saddr);
		csum = csum_update32(csum, ip->daddr, n->daddr);
		csum = csum_update16(csum, ports[0], n->sport);
		csum = csum_update16(csum, ports[1], n->dport);
		/* A UDP checksum that computes to 0 is sent as 0xffff: 0 means "none". */
		*l4csum = csum ? csum : (f->proto == IPPROTO_UDP ? 0xffff : 0);
	}
	ip->saddr = n->saddr;
	ip->daddr = n->daddr;
	ports[0] = n->sport;
	ports[1] = n->dport;
	return 0;
}

/*
 * @f, arriving from outside, is a reply from another node's backend to a flow this node
 * source-NATed (REPLY entry with SL_CT_F_SNAT): fill @n with the service address as source and
 * the client as destination, and return 1. Returns 0 for any other packet.
 */
static __always_inline int nat_snat_reply(const struct flow *f, struct nat_tuple *n, __u64 now)
{
	struct sl_ct_key key;
	struct sl_ct_entry *ct;

	if (!addr_maybe(SL_ADDR_REPLY_SRC, f->saddr))
		return 0;
	ct_key_of(&key, f, SL_CT_DIR_REPLY);
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (!ct || !(ct->flags & SL_CT_F_SNAT))
		return 0;
	ct_touch(ct, f, now);
	ct_mark_replied(&key, ct);
	n->saddr = ct->nat_addr;
	n->sport = ct->nat_port;
	n->daddr = ct->rev_addr;
	n->dport = ct->rev_port;
	return 1;
}

/*
 * tc: replies of translated flows (@skb, parsed as @f) get their service address back as source,
 * where a reply enters the client pod (east-west) or leaves by the external interface to an
 * outside client (north-south with a backend on this node). Source-NATed flows are left to
 * nat_snat_reply(). Returns TC_ACT_OK, or TC_ACT_SHOT when the rewrite failed.
 */
static __always_inline int nat_reverse_flow(struct __sk_buff *skb, const struct flow *f)
{
	struct sl_ct_key key;
	struct sl_ct_entry *ct;
	struct nat_tuple n;

	if (!addr_maybe(SL_ADDR_REPLY_SRC, f->saddr))
		return TC_ACT_OK;
	ct_key_of(&key, f, SL_CT_DIR_REPLY);
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (!ct || (ct->flags & SL_CT_F_SNAT))
		return TC_ACT_OK;
	nat_identity(&n, f);
	n.saddr = ct->nat_addr;
	n.sport = ct->nat_port;
	ct_touch(ct, f, sl_now());
	ct_mark_replied(&key, ct);
	if (nat_skb(skb, f, &n))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/*
 * nat_reverse_flow() for any packet, parsed here; ICMP errors about translated flows are translated
 * too (icmp_reverse_skb()). TC_ACT_SHOT also for a later fragment whose first was not seen (frag.h).
 */
static __always_inline int nat_reverse_skb(struct __sk_buff *skb)
{
	struct flow f;
	int parsed = parse_skb(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed)
		return icmp_reverse_skb(skb) ? TC_ACT_SHOT : TC_ACT_OK;
	return nat_reverse_flow(skb, &f);
}

#endif /* SLUICE_LIB_NAT_H */
