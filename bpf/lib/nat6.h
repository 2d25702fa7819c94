/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 address translation, as nat.h does IPv4's: a packet's addresses and ports rewritten to a
 * struct nat_tuple6. IPv6 has no header checksum; the TCP/UDP checksum covers a pseudo-header
 * with both addresses, fixed from bpf_csum_diff() over the 16-byte addresses (skb: through
 * bpf_l4_csum_replace(), which also handles CHECKSUM_PARTIAL packets of a local stack; XDP: in
 * the frame). A later fragment has no L4 header: only its addresses change.
 */
#ifndef SLUICE_LIB_NAT6_H
#define SLUICE_LIB_NAT6_H

#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stddef.h>

#include "ct6.h"
#include "icmp6.h"

/* What a packet's addresses and ports become; saddr and daddr contiguous, as in the IPv6 header. */
struct nat_tuple6 {
	__be32	saddr[4];
	__be32	daddr[4];
	__be16	sport, dport;
};

/* @f's own addresses and ports: the translation that changes nothing. */
static __always_inline void nat6_identity(struct nat_tuple6 *n, const struct flow6 *f)
{
	ip6_copy(n->saddr, f->saddr);
	ip6_copy(n->daddr, f->daddr);
	n->sport = f->sport;
	n->dport = f->dport;
}

/* Where @f's TCP/UDP checksum is. */
static __always_inline __u32 nat6_csum_off(const struct flow6 *f)
{
	return f->l4_off + (f->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) : offsetof(struct udphdr, check));
}

/*
 * Rewrite one address and one port (source or destination, @dst) of @skb, the L4 checksum fixed.
 * Returns 0, or -1 when a helper failed (drop it).
 */
static __always_inline int nat6_rewrite_skb(struct __sk_buff *skb, const struct flow6 *f, int dst,
					    const __be32 *old_addr, const __be32 *new_addr, __be16 old_port,
					    __be16 new_port)
{
	__u32 port_off = f->l4_off + (dst ? offsetof(struct tcphdr, dest) : offsetof(struct tcphdr, source));
	__u32 csum_off = nat6_csum_off(f);
	/* An IPv6 UDP checksum is never 0 ("none" is IPv4's); the flag keeps a computed 0 off the wire. */
	__u32 l4flags = f->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	int addr_changes = !ip6_eq(old_addr, new_addr);

	if (addr_changes && flow6_has_l4(f)) {
		__s64 diff = bpf_csum_diff((__be32 *)old_addr, 16, (__be32 *)new_addr, 16, 0);

		if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, l4flags | BPF_F_PSEUDO_HDR))
			return -1;
	}
	if (addr_changes && bpf_skb_store_bytes(skb, dst ? IP6_DADDR_OFF : IP6_SADDR_OFF, new_addr, 16, 0))
		return -1;
	if (!flow6_has_l4(f) || old_port == new_port)
		return 0;
	if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, l4flags | sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/* Translate @skb (parsed as @f) to @n: each side that changes. Returns 0, or -1 (drop it). */
static __always_inline int nat6_skb(struct __sk_buff *skb, const struct flow6 *f, const struct nat_tuple6 *n)
{
	if ((!ip6_eq(n->saddr, f->saddr) || n->sport != f->sport) &&
	    nat6_rewrite_skb(skb, f, 0, f->saddr, n->saddr, f->sport, n->sport))
		return -1;
	if ((!ip6_eq(n->daddr, f->daddr) || n->dport != f->dport) &&
	    nat6_rewrite_skb(skb, f, 1, f->daddr, n->daddr, f->dport, n->dport))
		return -1;
	return 0;
}

/*
 * Translate an XDP frame (parsed as @f) to @n: the checksum is read, updated with the difference
 * of both addresses and ports, and written back, with the addresses and ports, by the XDP load and
 * store helpers (no packet pointers to bound). Returns 0, or -1 when a helper failed.
 */
static __always_inline int nat6_xdp(struct xdp_md *ctx, const struct flow6 *f, const struct nat_tuple6 *n)
{
	struct {
		__be32	addrs[8];
		__be16	ports[2];
	} old;
	__u32 csum_off = nat6_csum_off(f);
	__sum16 csum;
	__s64 diff;

	if (!flow6_has_l4(f))
		return bpf_xdp_store_bytes(ctx, IP6_SADDR_OFF, (void *)n->saddr, 32) ? -1 : 0;
	ip6_copy(&old.addrs[0], f->saddr);
	ip6_copy(&old.addrs[4], f->daddr);
	old.ports[0] = f->sport;
	old.ports[1] = f->dport;
	/* struct nat_tuple6 is laid out as @old: saddr, daddr, sport, dport. */
	diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)n, sizeof(old), 0);
	if (diff < 0 || bpf_xdp_load_bytes(ctx, csum_off, &csum, sizeof(csum)))
		return -1;
	csum = csum_apply_diff(csum, (__u32)diff);
	if (f->proto == IPPROTO_UDP && !csum)
		csum = 0xffff;
	if (bpf_xdp_store_bytes(ctx, csum_off, &csum, sizeof(csum)) ||
	    bpf_xdp_store_bytes(ctx, IP6_SADDR_OFF, (void *)n->saddr, 32) ||
	    bpf_xdp_store_bytes(ctx, f->l4_off, (void *)&n->sport, 4))
		return -1;
	return 0;
}

/*
 * @f is a reply from a backend to a flow this node source-NATed (REPLY entry with SL_CT_F_SNAT):
 * fill @n with the service address as source and the client as destination, and return 1.
 * Returns 0 for any other packet.
 */
static __always_inline int nat6_snat_reply(const struct flow6 *f, struct nat_tuple6 *n, __u64 now)
{
	struct sl_ct6_key key;
	struct sl_ct6_entry *ct;

	if (!addr_maybe6(SL_ADDR_REPLY_SRC, f->saddr))
		return 0;
	ct6_key_of(&key, f, SL_CT_DIR_REPLY);
	ct = bpf_map_lookup_elem(&sl_ct6, &key);
	if (!ct || !(ct->flags & SL_CT_F_SNAT))
		return 0;
	ct6_touch(ct, f, now);
	ct6_mark_replied(&key, ct);
	ip6_copy(n->saddr, ct->nat_addr);
	n->sport = ct->nat_port;
	ip6_copy(n->daddr, ct->rev_addr);
	n->dport = ct->rev_port;
	return 1;
}

/*
 * tc: replies of translated flows get their service address back as source (nat_reverse_skb()'s
 * twin); ICMPv6 errors about translated flows are translated too (icmp6_reverse_skb()).
 * Returns TC_ACT_OK, or TC_ACT_SHOT when a rewrite failed or for a later fragment whose first
 * was not seen.
 */
static __always_inline int nat6_reverse_skb(struct __sk_buff *skb)
{
	struct sl_ct6_key key;
	struct sl_ct6_entry *ct;
	struct nat_tuple6 n;
	struct flow6 f;
	int parsed = parse6_skb(skb, &f);

	if (parsed == PARSE_DROP)
		return TC_ACT_SHOT;
	if (parsed == PARSE6_ICMP)
		return icmp6_reverse_skb(skb, &f) ? TC_ACT_SHOT : TC_ACT_OK;
	if (parsed || !addr_maybe6(SL_ADDR_REPLY_SRC, f.saddr))
		return TC_ACT_OK;
	ct6_key_of(&key, &f, SL_CT_DIR_REPLY);
	ct = bpf_map_lookup_elem(&sl_ct6, &key);
	if (!ct || (ct->flags & SL_CT_F_SNAT))
		return TC_ACT_OK;
	nat6_identity(&n, &f);
	ip6_copy(n.saddr, ct->nat_addr);
	n.sport = ct->nat_port;
	ct6_touch(ct, &f, sl_now());
	ct6_mark_replied(&key, ct);
	return nat6_skb(skb, &f, &n) ? TC_ACT_SHOT : TC_ACT_OK;
}

#endif /* SLUICE_LIB_NAT6_H */
