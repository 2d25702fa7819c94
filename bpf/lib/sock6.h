/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level balancing for IPv6 sockets (connect6, sendmsg6, recvmsg6, getpeername6): sock.h's
 * translation over the IPv6 maps. The frontend is looked up in sl_services6 and the backend in
 * sl_backends6; the backend choice is the IPv4 hooks' (Maglev slot of the shared sl_maglev for
 * the socket cookie, ClientIP affinity in the shared sl_affinity by network namespace cookie), and
 * the reverse translation lives in sl_sock_rev6.
 *
 * IPv4-mapped destinations (::ffff:a.b.c.d): a dual-stack socket (IPV6_V6ONLY off) reaching an
 * IPv4 service. The kernel runs connect6/getpeername6/recvmsg6 for it, never their IPv4 twins, and
 * then sends IPv4 packets. These are translated through the IPv4 maps (sock4_xlate(), sl_sock_rev)
 * with the answer written back mapped, as Cilium does: the node's own dual-stack sockets would
 * otherwise find no route to a ClusterIP, and pods' would get the per-packet path where the IPv4
 * hooks give its IPv4 sockets the socket path.
 */
#ifndef SLUICE_LIB_SOCK6_H
#define SLUICE_LIB_SOCK6_H

#include "sock.h"

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
	return !a->w[0] && !a->w[1] && a->w[2] == bpf_htonl(0xffff);
}

/*
 * An event about a socket to IPv6 frontend @vip:@port (struct sl_event6, told from sl_event by its
 * size): the source is left all zero, as a socket has none yet when it is translated.
 */
static __always_inline void sock6_event(enum sl_event_type type, enum sl_event_reason reason,
					const struct sock6_addr *vip, __be16 port, __u8 proto,
					__u32 svc_id, __u32 backend_id)
{
	struct sl_event6 *e;

	if ((type == SL_EV_FLOW || type == SL_EV_AFFINITY) && !event_wanted(type))
		return;
	e = bpf_ringbuf_reserve(&sl_events, sizeof(*e), 0);
	if (!e)
		return;
	/* Every byte written: reserved ring memory is not zeroed. */
	*e = (struct sl_event6){
		.ts_ns = bpf_ktime_get_ns(), .dport = port, .proto = proto, .type = type, .reason = reason,
		.svc_id = svc_id, .backend_id = backend_id,
	};
	__builtin_memcpy(e->daddr, vip->w, sizeof(e->daddr));
	bpf_ringbuf_submit(e, 0);
}

/*
 * lb_pick_backend_for() over sl_backends6: the client's affine backend while it lasts (still this
 * frontend's, chosen less than affinity_timeout ago), else Maglev's slot for @f. Returns the
 * backend with its id in @backend_id, or NULL (counted: SL_CNT_NO_BACKEND_ENTRY).
 */
static __always_inline struct sl_backend6 *sock6_pick_backend(const struct sl_svc_value *svc, const struct flow *f,
							      const struct sl_aff_key *client,
							      const struct sock6_addr *vip, __u64 now,
							      __u32 *backend_id)
{
	struct sl_backend6 *be = NULL;
	struct sl_aff_value *v;
	__u32 id = 0, affine = 0;

	if (svc->flags & SL_SVC_F_AFFINITY) {
		v = bpf_map_lookup_elem(&sl_affinity, client);
		if (v && now - v->last_used_ns <= (__u64)svc->affinity_timeout * NSEC_PER_SEC) {
			affine = v->backend_id;
			be = bpf_map_lookup_elem(&sl_backends6, &affine);
			if (!be || be->svc_id != svc->svc_id)
				affine = 0;
		}
	}
	id = affine;
	if (!id) {
		id = maglev_pick(svc, f);
		be = id ? bpf_map_lookup_elem(&sl_backends6, &id) : NULL;
	}
	/* A table run read just as it was recycled could name another frontend's backend. */
	if (!be || be->svc_id != svc->svc_id) {
		count(SL_CNT_NO_BACKEND_ENTRY);
		sock6_event(SL_EV_DROP, SL_EV_REASON_NO_BACKEND_ENTRY, vip, f->dport, f->proto, svc->svc_id, 0);
		return NULL;
	}
	if (affine)
		sock6_event(SL_EV_AFFINITY, SL_EV_REASON_NONE, vip, f->dport, f->proto, svc->svc_id, id);
	if (svc->flags & SL_SVC_F_AFFINITY)
		affinity_record(client, id, now);
	*backend_id = id;
	return be;
}

/*
 * sock4_xlate() for IPv6: translate the destination @a:@*port of @ctx's socket, a frontend in
 * sl_services6 (cluster scope), to a backend of sl_backends6, recording sl_sock_rev6.
 */
static __always_inline enum sock_xlate sock6_xlate(struct bpf_sock_addr *ctx, struct sock6_addr *a, __be16 *port)
{
	struct sl_sock_rev6_value rev = {};
	struct sl_sock_rev6_key rkey = {};
	struct sl_aff_key client = {};
	struct sl_svc6_key key = {};
	struct sl_sock_stats *st;
	struct sl_svc_value *svc;
	struct sl_backend6 *be;
	struct flow f = {};
	__u64 cookie, netns;
	__u32 backend_id;

	__builtin_memcpy(key.vip, a->w, sizeof(key.vip));
	key.port = bpf_ntohs(*port);
	key.proto = ctx->protocol;
	key.scope = SL_SCOPE_CLUSTER;
	svc = bpf_map_lookup_elem(&sl_services6, &key);
	if (!svc || !sock_in_scope(ctx))
		return SOCK_XLATE_PASS;
	st = sock_stats(svc->svc_id);
	if (!svc->count) {
		if (st)
			st->rejects++;
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_XLATE_REFUSE;
	}
	cookie = bpf_get_socket_cookie(ctx);
	netns = bpf_get_netns_cookie(ctx);
	/* The IPv4 hooks' hash input: the cookie for the client, the frontend folded to 32 bits. */
	f.saddr = (__u32)cookie ^ (__u32)(cookie >> 32);
	f.daddr = a->w[0] ^ a->w[1] ^ a->w[2] ^ a->w[3];
	f.dport = *port;
	f.proto = key.proto;
	client.svc_id = svc->svc_id;
	client.kind = SL_AFF_CLIENT_NETNS;
	__builtin_memcpy(client.client, &netns, sizeof(netns));
	be = sock6_pick_backend(svc, &f, &client, a, sl_now(), &backend_id);
	if (!be)
		return SOCK_XLATE_PASS;	/* counted; pods still meet the per-packet path */

	rkey.cookie = cookie;
	__builtin_memcpy(rkey.backend_addr, be->ip, sizeof(rkey.backend_addr));
	rkey.backend_port = bpf_htons(be->port);
	__builtin_memcpy(rev.svc_addr, a->w, sizeof(rev.svc_addr));
	rev.svc_port = *port;
	rev.svc_id = svc->svc_id;
	rev.backend_id = backend_id;
	if (bpf_map_update_elem(&sl_sock_rev6, &rkey, &rev, BPF_ANY))
		return SOCK_XLATE_PASS;
	__builtin_memcpy(a->w, rkey.backend_addr, sizeof(a->w));
	*port = rkey.backend_port;
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
 * recvmsg6 / getpeername6: show the service address instead of the backend @ctx names, from
 * sl_sock_rev6, or from sl_sock_rev for an IPv4-mapped one (shown mapped).
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
	rkey.cookie = bpf_get_socket_cookie(ctx);
	__builtin_memcpy(rkey.backend_addr, a.w, sizeof(rkey.backend_addr));
	rkey.backend_port = port;
	rev = bpf_map_lookup_elem(&sl_sock_rev6, &rkey);
	if (rev) {
		__builtin_memcpy(a.w, rev->svc_addr, sizeof(a.w));
		sock6_addr_set(ctx, &a);
		ctx->user_port = rev->svc_port;
	}
	return SOCK_ALLOW;
}

#endif /* SLUICE_LIB_SOCK6_H */
