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

/* What a translation did with the address it was given. */
enum sock_xlate {
	SOCK_XLATE_PASS = 0,	/* not ours, or not translatable: the socket keeps its destination */
	SOCK_XLATE_DONE,	/* the address and port now name a backend */
	SOCK_XLATE_REFUSE,	/* a frontend without endpoints: fail the call (retval set) */
};

/*
 * A frontend without endpoints refuses the call, as the per-packet path rejects its first packet:
 * counted, and -ECONNREFUSED set as the call's error. Both families' translations end here for one.
 */
static __always_inline enum sock_xlate sock_refuse(struct sl_sock_stats *st)
{
	if (st)
		st->rejects++;
	bpf_set_retval(-ECONNREFUSED);
	return SOCK_XLATE_REFUSE;
}

/*
 * Translate the IPv4 destination @*addr:@*port (a ClusterIP frontend) of @ctx's socket to a backend,
 * as lb_decide() would for the socket's first packet. Maglev hashes the socket cookie in place of
 * the source address and port (neither exists before connect()), so every socket draws its own slot
 * and keeps it: an unconnected UDP socket sends all its datagrams to one backend, like a flow.
 * ClientIP affinity names the client by its network namespace cookie (SL_AFF_CLIENT_NETNS): a pod,
 * or the node, whatever address it will send from. The address is passed in, not read from @ctx,
 * so connect6() can translate an IPv4-mapped destination (lib/sock6.h) through the same code.
 * Returns SOCK_XLATE_REFUSE with -ECONNREFUSED set for a frontend without endpoints, as the
 * per-packet path rejects its first packet.
 */
static __always_inline enum sock_xlate sock4_xlate(struct bpf_sock_addr *ctx, __be32 *addr, __be16 *port)
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

	f.daddr = *addr;
	f.dport = *port;
	f.proto = ctx->protocol;
	svc = lb_lookup(&f, SL_SCOPE_CLUSTER);
	if (!svc || !sock_in_scope(ctx))
		return SOCK_XLATE_PASS;
	st = sock_stats(svc->svc_id);
	if (!svc->count)
		return sock_refuse(st);
	cookie = bpf_get_socket_cookie(ctx);
	netns = bpf_get_netns_cookie(ctx);
	f.saddr = (__u32)cookie ^ (__u32)(cookie >> 32);
	client.svc_id = svc->svc_id;
	client.kind = SL_AFF_CLIENT_NETNS;
	__builtin_memcpy(client.client, &netns, sizeof(netns));
	be = lb_pick_backend_for(svc, &f, &client, sl_now(), &backend_id);
	if (!be)
		return SOCK_XLATE_PASS;	/* counted; pods still meet the per-packet path */

	rkey.cookie = cookie;
	__builtin_memcpy(&rkey.backend_addr, be->ip, 4);
	rkey.backend_port = bpf_htons(be->port);
	rev.svc_addr = f.daddr;
	rev.svc_port = f.dport;
	rev.svc_id = svc->svc_id;
	rev.backend_id = backend_id;
	/* Without its reverse entry the socket would see the backend's address: leave it to the packets. */
	if (bpf_map_update_elem(&sl_sock_rev, &rkey, &rev, BPF_ANY))
		return SOCK_XLATE_PASS;
	*addr = rkey.backend_addr;
	*port = rkey.backend_port;
	if (st)
		st->translations++;
	return SOCK_XLATE_DONE;
}

/* Whether @ctx's socket is one the hooks translate: TCP or UDP (not raw, ICMP, SCTP). */
static __always_inline int sock_proto_ours(struct bpf_sock_addr *ctx)
{
	return ctx->protocol == IPPROTO_TCP || ctx->protocol == IPPROTO_UDP;
}

/*
 * connect4 / sendmsg4: translate @ctx's destination (sock4_xlate()). Returns SOCK_ALLOW
 * (translated, or not ours: the packet path still sees it) or SOCK_DENY for a frontend without
 * endpoints.
 */
static __always_inline int sock4_translate(struct bpf_sock_addr *ctx)
{
	__be32 addr;
	__be16 port;

	if (!sock_proto_ours(ctx))
		return SOCK_ALLOW;
	addr = ctx->user_ip4;
	port = (__be16)ctx->user_port;
	switch (sock4_xlate(ctx, &addr, &port)) {
	case SOCK_XLATE_REFUSE:
		return SOCK_DENY;
	case SOCK_XLATE_DONE:
		ctx->user_ip4 = addr;
		ctx->user_port = port;
		break;
	default:
		break;
	}
	return SOCK_ALLOW;
}

/*
 * The service address @ctx's socket asked for when it was given the backend @*addr:@*port
 * (sl_sock_rev): replaces them and returns 1, or returns 0 (not a translated peer).
 */
static __always_inline int sock4_reverse_addr(struct bpf_sock_addr *ctx, __be32 *addr, __be16 *port)
{
	struct sl_sock_rev_key rkey = {};
	struct sl_sock_rev_value *rev;

	rkey.cookie = bpf_get_socket_cookie(ctx);
	rkey.backend_addr = *addr;
	rkey.backend_port = *port;
	rev = bpf_map_lookup_elem(&sl_sock_rev, &rkey);
	if (!rev)
		return 0;
	*addr = rev->svc_addr;
	*port = rev->svc_port;
	return 1;
}

/* Show the service address instead of the backend @ctx names (a reply's source, or the peer). */
static __always_inline int sock4_reverse(struct bpf_sock_addr *ctx)
{
	__be32 addr = ctx->user_ip4;
	__be16 port = (__be16)ctx->user_port;

	if (sock4_reverse_addr(ctx, &addr, &port)) {
		ctx->user_ip4 = addr;
		ctx->user_port = port;
	}
	return SOCK_ALLOW;
}

#endif /* SLUICE_LIB_SOCK_H */
