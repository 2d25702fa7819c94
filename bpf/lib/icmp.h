/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about translated flows. A router (or this node) that cannot deliver a client's
 * packet to a backend, e.g. "fragmentation needed" on a smaller-MTU hop, quotes the packet as it
 * was translated: client -> backend. The client's socket is connected to the service address and
 * would ignore it, so path-MTU discovery through a Service would stall. On the way to the client,
 * the quote gets the service address back.
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

/*
 * tc, towards a client: if @skb is an ICMP error quoting a client -> backend packet of a flow
 * translated without source NAT, rewrite the quoted destination to the service address and port
 * (the flow's REPLY entry), with the quote's IP checksum and the ICMP checksum updated (the quoted
 * transport checksum is left: receivers do not check it). Returns 0, or -1 when a write failed.
 */
static __always_inline int icmp_reverse_skb(struct __sk_buff *skb)
{
	__u8 ip_proto, ihl;
	struct sl_ct_entry *ct;
	struct sl_ct_key key;
	struct icmp_err icmp;
	struct iphdr quote;
	__be16 ports[2], new_check;

	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, protocol), &ip_proto, 1) ||
	    bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &ihl, 1))
		return 0;
	if (ip_proto != IPPROTO_ICMP || (ihl & 0x0f) != 5)
		return 0;
	if (bpf_skb_load_bytes(skb, ICMP_OFF, &icmp, sizeof(icmp)) ||
	    (icmp.type != ICMP_ERR_DEST_UNREACH && icmp.type != ICMP_ERR_TIME_EXCEEDED))
		return 0;
	if (bpf_skb_load_bytes(skb, QUOTE_OFF, &quote, sizeof(quote)) || quote.ihl != 5 ||
	    (quote.protocol != IPPROTO_TCP && quote.protocol != IPPROTO_UDP) ||
	    bpf_skb_load_bytes(skb, QUOTE_L4_OFF, ports, sizeof(ports)))
		return 0;
	/* The flow's REPLY entry is keyed as the backend answers: the quote the other way round. */
	ct_key_set(&key, quote.daddr, ports[1], quote.saddr, ports[0], quote.protocol, SL_CT_DIR_REPLY);
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (!ct || (ct->flags & SL_CT_F_SNAT))
		return 0;

	new_check = csum_update32(quote.check, quote.daddr, ct->nat_addr);
	icmp.checksum = csum_update32(icmp.checksum, quote.daddr, ct->nat_addr);
	icmp.checksum = csum_update16(icmp.checksum, ports[1], ct->nat_port);
	icmp.checksum = csum_update16(icmp.checksum, quote.check, new_check);
	if (bpf_skb_store_bytes(skb, QUOTE_OFF + offsetof(struct iphdr, daddr), &ct->nat_addr, 4, 0) ||
	    bpf_skb_store_bytes(skb, QUOTE_OFF + offsetof(struct iphdr, check), &new_check, 2, 0) ||
	    bpf_skb_store_bytes(skb, QUOTE_L4_OFF + 2, &ct->nat_port, 2, 0) ||
	    bpf_skb_store_bytes(skb, ICMP_OFF + offsetof(struct icmp_err, checksum), &icmp.checksum, 2, 0))
		return -1;
	return 0;
}

#endif /* SLUICE_LIB_ICMP_H */
