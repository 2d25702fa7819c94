// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The north-south benchmark's baseline (bench/northsouth.ts): the least an XDP program can do
 * with a frame, on the same interface the Sluice program runs on. Built twice:
 *   -DBASE_TX    swap the Ethernet addresses and send the frame back out (XDP_TX)
 *   -DBASE_DROP  drop it (XDP_DROP)
 * Non-IPv4 frames (ARP) are passed so the node stays reachable.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_baseline(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
#ifdef BASE_TX
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
#else
	(void)tmp;
	return XDP_DROP;
#endif
}
