/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Refusing a connection to a service without endpoints, as kube-proxy's REJECT rule does. */
#ifndef SLUICE_LIB_REJECT_H
#define SLUICE_LIB_REJECT_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "counters.h"
#include "eth.h"
#include "csum.h"
#include "parse.h"

/* linux/icmp.h drags in libc headers that do not build for the BPF target. */
#define ICMP_DEST_UNREACH	3
#define ICMP_PORT_UNREACH	3
#define ICMP_FRAG_NEEDED	4

struct icmp_unreach {
	__u8	type;
	__u8	code;
	__sum16	checksum;
	__be32	unused;
};

struct icmp_reply {
	struct iphdr	ip;
	struct icmp_unreach icmp;
	struct iphdr	orig_ip;
	__u8		orig_l4[8];
};

/*
 * Answer @skb (parsed as @f), which came from a pod, with ICMP destination unreachable @code
 * (@mtu: the next hop's, for "fragmentation needed"), from @f's destination. The frame is
 * rewritten in place: new IP + ICMP headers followed by the offending IP header and the first
 * 8 bytes of its payload (RFC 792), then sent back out of the interface it came in on.
 * Returns the redirect, or -1 when the answer could not be built, e.g. for a header with IP
 * options.
 */
static __always_inline int icmp_unreach_skb(struct __sk_buff *skb, const struct flow *f, __u8 code, __u16 mtu)
{
	struct icmp_reply r = {};
	struct ethhdr eth;
	__u32 sum;

	if (f->l4_off != sizeof(struct ethhdr) + sizeof(struct iphdr))
		return -1;	/* IP options: not worth the complexity here */
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) ||
	    bpf_skb_load_bytes(skb, sizeof(eth), &r.orig_ip, sizeof(r.orig_ip)) ||
	    bpf_skb_load_bytes(skb, f->l4_off, r.orig_l4, sizeof(r.orig_l4)))
		return -1;

	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.saddr = f->daddr;
	r.ip.daddr = f->saddr;
	r.ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0));
	r.icmp.type = ICMP_DEST_UNREACH;
	r.icmp.code = code;
	r.icmp.unused = bpf_htonl(mtu);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp,
			    sizeof(r) - offsetof(struct icmp_reply, icmp), 0);
	r.icmp.checksum = csum_fold(sum);

	eth_swap(&eth);

	if (bpf_skb_change_tail(skb, sizeof(eth) + sizeof(r), 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) ||
	    bpf_skb_store_bytes(skb, sizeof(eth), &r, sizeof(r), BPF_F_INVALIDATE_HASH))
		return -1;
	/* ifindex of the host-side veth: egress there is ingress into the pod. */
	return bpf_redirect(skb->ifindex, 0);
}

/*
 * Refuse @skb (parsed as @f), from a pod, with port unreachable: the client's connect() or send()
 * fails at once instead of timing out. Returns the redirect (SL_CNT_REJECT), or TC_ACT_SHOT
 * (SL_CNT_REJECT_FAIL when the answer could not be built).
 */
static __always_inline int reject_skb(struct __sk_buff *skb, const struct flow *f)
{
	int rc;

	if (!flow_has_l4(f))
		return TC_ACT_SHOT;	/* a later fragment: its first one was answered */
	rc = icmp_unreach_skb(skb, f, ICMP_PORT_UNREACH, 0);
	if (rc < 0) {
		count(SL_CNT_REJECT_FAIL);
		return TC_ACT_SHOT;
	}
	count(SL_CNT_REJECT);
	return rc;
}

#endif /* SLUICE_LIB_REJECT_H */
