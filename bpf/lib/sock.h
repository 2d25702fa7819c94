/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level balancing: a service address given to connect() or sendmsg() becomes a backend's
 * before the socket sends anything, so the flow then runs as a direct one (no per-packet NAT, no
 * conntrack entry). The lookup and the backend choice are lb.h's; what differs is who the client
 * is (no source address or port exists yet) and where the reverse translation lives instead of
 * conntrack: a TCP socket's in its own storage (sl_sock_peer, freed with it), a UDP socket's in
 * sl_sock_rev (by socket cookie and backend: recvmsg() on an unconnected socket needs it per peer).
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

/* Whether @a (four words as on the wire) is IPv4-mapped, ::ffff:a.b.c.d; a.b.c.d is a[3]. */
static __always_inline int sock_addr_v4mapped(const __be32 *a)
{
	return !a[0] && !a[1] && a[2] == bpf_htonl(0xffff);
}

/*
 * Record @peer as the reverse translation of @ctx's TCP socket, in the socket's own storage
 * (sl_sock_peer): no map entry to insert, evict or expire, and the kernel frees it with the
 * socket. Returns 0, or -1 when it could not be stored.
 */
static __always_inline int sock_peer_record(struct bpf_sock_addr *ctx, struct sl_sock_peer *peer)
{
	struct bpf_sock *sk = ctx->sk;
	struct sl_sock_peer *p;

	if (!sk)
		return -1;
	p = bpf_sk_storage_get(&sl_sock_peer, sk, peer, BPF_SK_STORAGE_GET_F_CREATE);
	if (!p)
		return -1;
	/* Created from @peer, or there already: a connect() tried again after a failed one. */
	__builtin_memcpy(p, peer, sizeof(*p));
	return 0;
}

/* The reverse translation stored in @ctx's socket by sock_peer_record(), or NULL. */
static __always_inline struct sl_sock_peer *sock_peer_of(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;

	return sk ? bpf_sk_storage_get(&sl_sock_peer, sk, 0, 0) : NULL;
}

/* The time for an affinity decision, read only when @svc has ClientIP affinity. */
static __always_inline __u64 sock_now(const struct sl_svc_value *svc)
{
	return (svc->flags & SL_SVC_F_AFFINITY) ? sl_now() : 0;
}

/*
 * @client for a ClientIP-affinity @svc: the socket's network namespace (it has no address yet);
 * left zero, and the cookie not read, for any other service.
 */
static __always_inline void sock_aff_client(struct bpf_sock_addr *ctx, const struct sl_svc_value *svc,
					    struct sl_aff_key *client)
{
	__u64 netns;

	if (!(svc->flags & SL_SVC_F_AFFINITY))
		return;
	netns = bpf_get_netns_cookie(ctx);
	client->svc_id = svc->svc_id;
	client->kind = SL_AFF_CLIENT_NETNS;
	__builtin_memcpy(client->client, &netns, sizeof(netns));
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
	struct sl_aff_key client = {};
	struct sl_sock_stats *st;
	struct sl_svc_value *svc;
	struct sl_backend *be;
	struct flow f = {};
	__be32 backend_addr;
	__be16 backend_port;
	__u64 cookie;
	__u32 backend_id;

	/* One bit first: most connect()s (pod IPs, the outside world) name no frontend. */
	if (!addr_maybe(SL_ADDR_FRONTEND, *addr))
		return SOCK_XLATE_PASS;
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
	f.saddr = (__u32)cookie ^ (__u32)(cookie >> 32);
	sock_aff_client(ctx, svc, &client);
	be = lb_pick_backend_for(svc, &f, &client, sock_now(svc), &backend_id);
	if (!be)
		return SOCK_XLATE_PASS;	/* counted; pods still meet the per-packet path */
	__builtin_memcpy(&backend_addr, be->ip, 4);
	backend_port = bpf_htons(be->port);

	/* Without its reverse translation the socket would see the backend's address: leave it to the packets. */
	if (f.proto == IPPROTO_TCP) {
		struct sl_sock_peer peer = {
			.backend_addr = { 0, 0, bpf_htonl(0xffff), backend_addr },
			.svc_addr = { 0, 0, bpf_htonl(0xffff), f.daddr },
			.backend_port = backend_port,
			.svc_port = f.dport,
			.svc_id = svc->svc_id,
			.backend_id = backend_id,
		};

		if (sock_peer_record(ctx, &peer))
			return SOCK_XLATE_PASS;
	} else {
		struct sl_sock_rev_value rev = { .svc_addr = f.daddr, .svc_port = f.dport,
						 .svc_id = svc->svc_id, .backend_id = backend_id };
		struct sl_sock_rev_key rkey = {};	/* as sock6_xlate(): zeroed whole, then filled */

		rkey.cookie = cookie;
		rkey.backend_addr = backend_addr;
		rkey.backend_port = backend_port;

		if (bpf_map_update_elem(&sl_sock_rev, &rkey, &rev, BPF_ANY))
			return SOCK_XLATE_PASS;
	}
	*addr = backend_addr;
	*port = backend_port;
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
 * The service address @ctx's socket asked for when it was given the backend @*addr:@*port:
 * replaces them and returns 1, or returns 0 (not a translated peer). A TCP socket's is in its
 * storage (sl_sock_peer), a UDP socket's in sl_sock_rev; a TCP socket without storage looks there
 * too, as one connected before an upgrade has its entry there.
 */
static __always_inline int sock4_reverse_addr(struct bpf_sock_addr *ctx, __be32 *addr, __be16 *port)
{
	struct sl_sock_rev_key rkey = {};
	struct sl_sock_rev_value *rev;

	if (ctx->protocol == IPPROTO_TCP) {
		struct sl_sock_peer *p = sock_peer_of(ctx);

		if (p) {
			if (!sock_addr_v4mapped(p->backend_addr) || p->backend_addr[3] != *addr ||
			    p->backend_port != *port)
				return 0;
			*addr = p->svc_addr[3];
			*port = p->svc_port;
			return 1;
		}
	}
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
