/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level balancing: a service address given to connect() or sendmsg() becomes a backend's
 * before the socket sends anything, so the flow then runs as a direct one (no per-packet NAT, no
 * conntrack entry). The lookup and the backend choice are lb.h's; what differs is who the client
 * is (no source address or port exists yet) and where the reverse translation lives (sl_sock_rev,
 * by socket cookie, instead of conntrack).
 */
#ifndef SLUICE_LIB_SOCK_H
#define SLUICE_LIB_SOCK_H

#include <linux/in.h>
#include "lb.h"

#define SOCK_ALLOW	1	/* cgroup sock_addr verdicts */
#define SOCK_DENY	0
#define ECONNREFUSED	111

/* Whether the socket behind @ctx is ours: every socket, or the node's own (SL_SOCK_HOST_ONLY). */
static __always_inline int sock_in_scope(struct bpf_sock_addr *ctx)
{
	struct sl_sock_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_sock_config, &zero);
	if (!cfg)
		return 0;
	if (cfg->mode == SL_SOCK_HOST_ONLY)
		return bpf_get_netns_cookie(ctx) == cfg->host_netns_cookie;
	return 1;
}

static __always_inline struct sl_sock_stats *sock_stats(__u32 svc_id)
{
	return bpf_map_lookup_elem(&sl_sock_stats, &svc_id);
}

/*
 * Translate @ctx's destination (a ClusterIP frontend) to a backend, as lb_decide() would for the
 * socket's first packet. Maglev hashes the socket cookie in place of the source address and port
 * (neither exists before connect()), so every socket draws its own slot and keeps it: an unconnected
 * UDP socket sends all its datagrams to one backend, like a flow. ClientIP affinity names the
 * client by its network namespace cookie (SL_AFF_CLIENT_NETNS): a pod, or the node, whatever
 * address it will send from. Returns SOCK_ALLOW (translated, or not ours: the packet path still
 * sees it) or SOCK_DENY with -ECONNREFUSED for a frontend without endpoints, as the per-packet
 * path rejects its first packet.
 */
static __always_inline int sock4_translate(struct bpf_sock_addr *ctx)
{
	struct sl_sock_rev_value rev = {};
	struct sl_sock_rev_key rkey = {};
	struct sl_aff_key client = {};
	struct sl_sock_stats *st;
	struct sl_svc_value *svc;
	struct sl_backend *be;
	struct flow f = {};
	__u64 cookie, netns;
	__u32 backend_id;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return SOCK_ALLOW;
	f.daddr = ctx->user_ip4;
	f.dport = (__be16)ctx->user_port;
	f.proto = ctx->protocol;
	svc = lb_lookup(&f, SL_SCOPE_CLUSTER);
	if (!svc || !sock_in_scope(ctx))
		return SOCK_ALLOW;
	st = sock_stats(svc->svc_id);
	if (!svc->count) {
		if (st)
			st->rejects++;
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_DENY;
	}
	cookie = bpf_get_socket_cookie(ctx);
	netns = bpf_get_netns_cookie(ctx);
	f.saddr = (__u32)cookie ^ (__u32)(cookie >> 32);
	client.svc_id = svc->svc_id;
	client.kind = SL_AFF_CLIENT_NETNS;
	__builtin_memcpy(client.client, &netns, sizeof(netns));
	be = lb_pick_backend_for(svc, &f, &client, sl_now(), &backend_id);
	if (!be)
		return SOCK_ALLOW;	/* counted; pods still meet the per-packet path */

	rkey.cookie = cookie;
	__builtin_memcpy(&rkey.backend_addr, be->ip, 4);
	rkey.backend_port = bpf_htons(be->port);
	rev.svc_addr = f.daddr;
	rev.svc_port = f.dport;
	rev.svc_id = svc->svc_id;
	rev.backend_id = backend_id;
	/* Without its reverse entry the socket would see the backend's address: leave it to the packets. */
	if (bpf_map_update_elem(&sl_sock_rev, &rkey, &rev, BPF_ANY))
		return SOCK_ALLOW;
	ctx->user_ip4 = rkey.backend_addr;
	ctx->user_port = rkey.backend_port;
	if (st)
		st->translations++;
	return SOCK_ALLOW;
}

/* Show the service address instead of the backend @ctx names (a reply's source, or the peer). */
static __always_inline int sock4_reverse(struct bpf_sock_addr *ctx)
{
	struct sl_sock_rev_key rkey = {};
	struct sl_sock_rev_value *rev;

	rkey.cookie = bpf_get_socket_cookie(ctx);
	rkey.backend_addr = ctx->user_ip4;
	rkey.backend_port = (__be16)ctx->user_port;
	rev = bpf_map_lookup_elem(&sl_sock_rev, &rkey);
	if (rev) {
		ctx->user_ip4 = rev->svc_addr;
		ctx->user_port = rev->svc_port;
	}
	return SOCK_ALLOW;
}

#endif /* SLUICE_LIB_SOCK_H */
