/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level balancing for IPv6 sockets (connect6, sendmsg6, recvmsg6, getpeername6): sock.h's
 * translation over the IPv6 maps, with lb6.h's lookup (sl_services6) and backend choice
 * (sl_backends6). As the IPv4 hooks do, Maglev hashes the socket cookie where a packet has its
 * source, and ClientIP affinity names the client by its network namespace cookie; the reverse
 * translation lives in the socket's storage (TCP, sl_sock_peer, shared with IPv4) or sl_sock_rev6 (UDP).
 *
 * IPv4-mapped destinations (::ffff:a.b.c.d): a dual-stack socket (IPV6_V6ONLY off) reaching an
 * IPv4 service. The kernel runs connect6, getpeername6 and recvmsg6 for it, not their IPv4 twins,
 * and then sends IPv4 packets (only an unconnected sendto() is handed to sendmsg4, which translates
 * it as any IPv4 datagram; sendmsg6 handles a mapped one all the same). These are translated
 * through the IPv4 maps (sock4_xlate(): sl_sock_rev for UDP) with the answer written back mapped, as Cilium
 * does: the node's own dual-stack sockets would otherwise find no route to a ClusterIP, and pods'
 * would take the per-packet path where their IPv4 sockets take the socket path.
 */
#ifndef SLUICE_LIB_SOCK6_H
#define SLUICE_LIB_SOCK6_H

#include "sock.h"
#include "lb6.h"

/* A socket hook's IPv6 address, as four words as on the wire. */
struct sock6_addr {
	__be32 w[4];
};

/* @ctx's user_ip6, read word by word (the only loads the verifier allows on it). */
static __always_inline void sock6_addr_get(struct bpf_sock_addr *ctx, struct sock6_addr *a)
{
	a->w[0] = ctx->user_ip6[0];
	a->w[1] = ctx->user_ip6[1];
	a->w[2] = ctx->user_ip6[2];
	a->w[3] = ctx->user_ip6[3];
}

static __always_inline void sock6_addr_set(struct bpf_sock_addr *ctx, const struct sock6_addr *a)
{
	ctx->user_ip6[0] = a->w[0];
	ctx->user_ip6[1] = a->w[1];
	ctx->user_ip6[2] = a->w[2];
	ctx->user_ip6[3] = a->w[3];
}

/* ::ffff:a.b.c.d: an IPv4 peer of a dual-stack socket; a.b.c.d is w[3]. */
static __always_inline int sock6_addr_v4mapped(const struct sock6_addr *a)
{
	return sock_addr_v4mapped(a->w);
}

/*
 * sock4_xlate() for IPv6: translate the destination @a:@*port of @ctx's socket, a frontend in
 * sl_services6 (cluster scope), to a backend of sl_backends6, recording the reverse translation
 * (TCP: sl_sock_peer in the socket, UDP: sl_sock_rev6).
 */
static __always_inline enum sock_xlate sock6_xlate(struct bpf_sock_addr *ctx, struct sock6_addr *a, __be16 *port)
{
	struct sl_aff_key client = {};
	struct sl_sock_stats *st;
	struct sl_svc_value *svc;
	struct sl_backend6 *be;
	struct flow6 f = {};
	__be16 backend_port;
	__u64 cookie;
	__u32 backend_id;

	/* One bit first, as sock4_xlate(). */
	if (!addr_maybe6(SL_ADDR_FRONTEND, a->w))
		return SOCK_XLATE_PASS;
	ip6_copy(f.daddr, a->w);
	f.dport = *port;
	f.proto = ctx->protocol;
	svc = lb6_lookup(&f, SL_SCOPE_CLUSTER);
	if (!svc || !sock_in_scope(ctx))
		return SOCK_XLATE_PASS;
	st = sock_stats(svc->svc_id);
	if (!svc->count)
		return sock_refuse(st);
	cookie = bpf_get_socket_cookie(ctx);
	/* The cookie stands for the client's address and port, which do not exist yet. */
	f.saddr[0] = (__u32)cookie;
	f.saddr[1] = (__u32)(cookie >> 32);
	sock_aff_client(ctx, svc, &client);
	be = lb6_pick_backend_for(svc, &f, &client, sock_now(svc), &backend_id);
	if (!be)
		return SOCK_XLATE_PASS;	/* counted; pods still meet the per-packet path */
	backend_port = bpf_htons(be->port);

	/* Without its reverse translation the socket would see the backend's address: leave it to the packets. */
	if (f.proto == IPPROTO_TCP) {
		struct sl_sock_peer peer = {
			.backend_port = backend_port,
			.svc_port = f.dport,
			.svc_id = svc->svc_id,
			.backend_id = backend_id,
		};

		__builtin_memcpy(peer.backend_addr, be->ip, sizeof(peer.backend_addr));
		ip6_copy(peer.svc_addr, a->w);
		if (sock_peer_record(ctx, &peer))
			return SOCK_XLATE_PASS;
	} else {
		struct sl_sock_rev6_value rev = { .svc_port = f.dport, .svc_id = svc->svc_id,
						  .backend_id = backend_id };
		struct sl_sock_rev6_key rkey = {};	/* not a designated initializer: its tail padding is key too */

		rkey.cookie = cookie;
		rkey.backend_port = backend_port;
		__builtin_memcpy(rkey.backend_addr, be->ip, sizeof(rkey.backend_addr));
		ip6_copy(rev.svc_addr, a->w);
		if (bpf_map_update_elem(&sl_sock_rev6, &rkey, &rev, BPF_ANY))
			return SOCK_XLATE_PASS;
	}
	__builtin_memcpy(a->w, be->ip, sizeof(a->w));
	*port = backend_port;
	if (st)
		st->translations++;
	return SOCK_XLATE_DONE;
}

/*
 * connect6 / sendmsg6: translate @ctx's destination, an IPv6 frontend (sock6_xlate()) or an
 * IPv4-mapped IPv4 one (sock4_xlate(), the answer written back mapped). Returns SOCK_ALLOW or
 * SOCK_DENY (ECONNREFUSED) as sock4_translate().
 */
static __always_inline int sock6_translate(struct bpf_sock_addr *ctx)
{
	struct sock6_addr a;
	enum sock_xlate x;
	__be16 port;

	if (!sock_proto_ours(ctx))
		return SOCK_ALLOW;
	sock6_addr_get(ctx, &a);
	port = (__be16)ctx->user_port;
	if (sock6_addr_v4mapped(&a))
		x = sock4_xlate(ctx, &a.w[3], &port);
	else
		x = sock6_xlate(ctx, &a, &port);
	if (x == SOCK_XLATE_REFUSE)
		return SOCK_DENY;
	if (x == SOCK_XLATE_DONE) {
		sock6_addr_set(ctx, &a);
		ctx->user_port = port;
	}
	return SOCK_ALLOW;
}

/*
 * recvmsg6 / getpeername6: show the service address instead of the backend @ctx names: from the
 * socket's storage (TCP, sock4_reverse_addr()'s order) or sl_sock_rev6, or through
 * sock4_reverse_addr() for an IPv4-mapped one (shown mapped).
 */
static __always_inline int sock6_reverse(struct bpf_sock_addr *ctx)
{
	struct sl_sock_rev6_value *rev;
	struct sl_sock_rev6_key rkey = {};
	struct sock6_addr a;
	__be16 port;

	sock6_addr_get(ctx, &a);
	port = (__be16)ctx->user_port;
	if (sock6_addr_v4mapped(&a)) {
		if (sock4_reverse_addr(ctx, &a.w[3], &port)) {
			ctx->user_ip6[3] = a.w[3];
			ctx->user_port = port;
		}
		return SOCK_ALLOW;
	}
	if (ctx->protocol == IPPROTO_TCP) {
		struct sl_sock_peer *p = sock_peer_of(ctx);

		if (p) {
			if (ip6_eq(p->backend_addr, a.w) && p->backend_port == port) {
				ip6_copy(a.w, p->svc_addr);
				sock6_addr_set(ctx, &a);
				ctx->user_port = p->svc_port;
			}
			return SOCK_ALLOW;
		}
	}
	rkey.cookie = bpf_get_socket_cookie(ctx);
	ip6_copy(rkey.backend_addr, a.w);
	rkey.backend_port = port;
	rev = bpf_map_lookup_elem(&sl_sock_rev6, &rkey);
	if (rev) {
		ip6_copy(a.w, rev->svc_addr);
		sock6_addr_set(ctx, &a);
		ctx->user_port = rev->svc_port;
	}
	return SOCK_ALLOW;
}

#endif /* SLUICE_LIB_SOCK6_H */
