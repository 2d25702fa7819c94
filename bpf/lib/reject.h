/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Refusing a connection to a service without endpoints, as kube-proxy's REJECT rule does. */
#ifndef SLUICE_LIB_REJECT_H
#define SLUICE_LIB_REJECT_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "counters.h"
#include "csum.h"
#include "parse.h"

/* linux/icmp.h drags in libc headers that do not build for the BPF target. */
#define ICMP_DEST_UNREACH	3
#define ICMP_PORT_UNREACH	3

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
 * Answer @skb (parsed as @f), which came from a pod, with ICMP destination unreachable (port
 * unreachable): the client's connect() or send() fails at once instead of timing out. The frame
 * is rewritten in place: new IP + ICMP headers followed by the offending IP header and the first
 * 8 bytes of its payload (RFC 792), then sent back out of the interface it came in on.
 * Returns the redirect (SL_CNT_REJECT), or TC_ACT_SHOT when the answer could not be built, e.g.
 * for a header with IP options (SL_CNT_REJECT_FAIL).
 */
static __always_inline int reject_skb(struct __sk_buff *skb, const struct flow *f)
{
	struct icmp_reply r = {};
	struct ethhdr eth;
	__u8 mac[ETH_ALEN];
	__u32 sum;

	if (!flow_has_l4(f))
		return TC_ACT_SHOT;	/* a later fragment: its first one was answered */
	if (f->l4_off != sizeof(struct ethhdr) + sizeof(struct iphdr))
		goto fail;	/* IP options: not worth the complexity here */
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) ||
	    bpf_skb_load_bytes(skb, sizeof(eth), &r.orig_ip, sizeof(r.orig_ip)) ||
	    bpf_skb_load_bytes(skb, f->l4_off, r.orig_l4, sizeof(r.orig_l4)))
		goto fail;

	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.saddr = f->daddr;
	r.ip.daddr = f->saddr;
	r.ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0));
	r.icmp.type = ICMP_DEST_UNREACH;
	r.icmp.code = ICMP_PORT_UNREACH;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp,
			    sizeof(r) - offsetof(struct icmp_reply, icmp), 0);
	r.icmp.checksum = csum_fold(sum);

	__builtin_memcpy(mac, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, mac, ETH_ALEN);

	if (bpf_skb_change_tail(skb, sizeof(eth) + sizeof(r), 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) ||
	    bpf_skb_store_bytes(skb, sizeof(eth), &r, sizeof(r), BPF_F_INVALIDATE_HASH))
		goto fail;
	count(SL_CNT_REJECT);
	/* ifindex of the host-side veth: egress there is ingress into the pod. */
	return bpf_redirect(skb->ifindex, 0);
fail:
	count(SL_CNT_REJECT_FAIL);
	return TC_ACT_SHOT;
}

#endif /* SLUICE_LIB_REJECT_H */
