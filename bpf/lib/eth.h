/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Sending a frame back where it came from: an answer to a pod, or a pod's own hairpinned packet. */
#ifndef SLUICE_LIB_ETH_H
#define SLUICE_LIB_ETH_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Swap @eth's addresses: the frame then goes back to its sender. */
static __always_inline void eth_swap(struct ethhdr *eth)
{
	__u8 mac[ETH_ALEN];

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
}

/*
 * Send @skb back out of the interface it arrived on with its MACs swapped: on a pod's host-side
 * veth, egress there is ingress into the pod.
 */
static __always_inline int skb_bounce(struct __sk_buff *skb)
{
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	eth_swap(&eth);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

#endif /* SLUICE_LIB_ETH_H */
