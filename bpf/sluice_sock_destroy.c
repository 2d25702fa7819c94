// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Stale-socket sweep for socket-level balancing (docs/datapath.md, "Stale sockets"). A socket
 * translated at connect() keeps its backend for life: no later packet passes a balancing decision.
 * When that backend is removed from its service, a connected UDP socket (a DNS client) would talk
 * to it forever. These socket iterators, run by the agent in each network namespace under its
 * cgroup after backends were removed, destroy the connected sockets whose backend (named by their
 * sl_sock_rev entry, or a TCP socket's own storage, sl_sock_peer) is gone from sl_backends; the application sees ECONNABORTED and reconnects,
 * which translates afresh. IPv6 sockets likewise by sl_sock_rev6 and sl_backends6 (the TCP and UDP
 * iterators walk both families), except a dual-stack socket's IPv4-mapped peer, which connect6
 * translated through the IPv4 maps and is looked up there. Unconnected UDP sockets are never
 * touched: sendmsg() translates each datagram anyway (destroying them was a Cilium bug, #48564).
 *
 * Needs the bpf_sock_destroy kfunc (Linux >= 6.5); the agent loads this object separately, so
 * older kernels keep everything else.
 */
#include <bpf/bpf_endian.h>
#include "lib/maps.h"

#define AF_INET		2
#define AF_INET6	10
#define TCP_ESTABLISHED	1	/* also a connected UDP socket's state */

/* The few kernel fields read here, relocated against the running kernel's BTF (CO-RE). */
struct in6_addr___sl {
	union {
		__be32	u6_addr32[4];
	} in6_u;
} __attribute__((preserve_access_index));

struct sock_common {
	__be32		skc_daddr;
	struct in6_addr___sl skc_v6_daddr;
	__be16		skc_dport;
	unsigned short	skc_family;
	volatile unsigned char skc_state;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct inet_sock {
	struct sock sk;
} __attribute__((preserve_access_index));

struct udp_sock {
	struct inet_sock inet;
} __attribute__((preserve_access_index));

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} __attribute__((preserve_access_index));

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Destroy @skc (its sl_sock_rev/_rev6 entry @key, if any, deleted after) and write its cookie to @seq, for the agent's count. */
static __always_inline void destroy(struct seq_file *seq, struct sock_common *skc, void *rev_map, const void *key,
				    __u64 cookie)
{
	if (bpf_sock_destroy(skc))
		return;
	if (rev_map)
		bpf_map_delete_elem(rev_map, key);
	bpf_seq_write(seq, &cookie, sizeof(cookie));
}

/*
 * A TCP socket connect() translated keeps its reverse translation in its own storage
 * (sl_sock_peer): destroy @skc when the peer @daddr (four words; IPv4-mapped for an IPv4 one)
 * :@dport is the backend stored there and that backend is gone (from sl_backends for an IPv4 peer,
 * sl_backends6 for an IPv6 one). Returns 0 when @skc has no storage: a socket connected before an
 * upgrade, whose entry is in sl_sock_rev(6).
 */
static __always_inline int sweep_peer(struct seq_file *seq, struct sock_common *skc, const __be32 daddr[4],
				      __be16 dport)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	struct sl_sock_peer *p;
	void *backend;

	if (!tp)
		return 0;
	p = bpf_sk_storage_get(&sl_sock_peer, tp, 0, 0);
	if (!p)
		return 0;
	if (p->backend_port != dport || p->backend_addr[0] != daddr[0] || p->backend_addr[1] != daddr[1] ||
	    p->backend_addr[2] != daddr[2] || p->backend_addr[3] != daddr[3])
		return 1;
	if (!daddr[0] && !daddr[1] && daddr[2] == bpf_htonl(0xffff))
		backend = bpf_map_lookup_elem(&sl_backends, &p->backend_id);
	else
		backend = bpf_map_lookup_elem(&sl_backends6, &p->backend_id);
	if (!backend)
		destroy(seq, skc, NULL, NULL, bpf_get_socket_cookie(skc));
	return 1;
}

/* An IPv4 peer @daddr:@dport of @skc (an IPv4 socket, or a dual-stack one's IPv4-mapped peer). */
static __always_inline void sweep4(struct seq_file *seq, struct sock_common *skc, __be32 daddr, __be16 dport)
{
	struct sl_sock_rev_key key = {};
	struct sl_sock_rev_value *rev;

	key.cookie = bpf_get_socket_cookie(skc);
	key.backend_addr = daddr;
	key.backend_port = dport;
	/* The entry names the peer it was translated to: a socket reconnected elsewhere has none. */
	rev = bpf_map_lookup_elem(&sl_sock_rev, &key);
	if (!rev || bpf_map_lookup_elem(&sl_backends, &rev->backend_id))
		return;
	destroy(seq, skc, &sl_sock_rev, &key, key.cookie);
}

/* An IPv6 peer of @skc: its sl_sock_rev6 entry and sl_backends6. */
static __always_inline void sweep6(struct seq_file *seq, struct sock_common *skc, const __be32 daddr[4],
				   __be16 dport)
{
	struct sl_sock_rev6_key key = {};
	struct sl_sock_rev6_value *rev;

	key.cookie = bpf_get_socket_cookie(skc);
	key.backend_addr[0] = daddr[0];
	key.backend_addr[1] = daddr[1];
	key.backend_addr[2] = daddr[2];
	key.backend_addr[3] = daddr[3];
	key.backend_port = dport;
	rev = bpf_map_lookup_elem(&sl_sock_rev6, &key);
	if (!rev || bpf_map_lookup_elem(&sl_backends6, &rev->backend_id))
		return;
	destroy(seq, skc, &sl_sock_rev6, &key, key.cookie);
}

/*
 * Destroy @skc when it is a connected socket whose translated backend is gone: a TCP one (@tcp) by
 * its storage, else (UDP, or TCP connected before an upgrade) by its sl_sock_rev(6) entry. An IPv6
 * socket's IPv4-mapped peer (a dual-stack socket that connect6 translated through the IPv4 maps) is
 * looked up as an IPv4 one.
 */
static __always_inline void sweep(struct seq_file *seq, struct sock_common *skc, int tcp)
{
	unsigned short family = skc->skc_family;
	__be32 d[4];

	if (skc->skc_state != TCP_ESTABLISHED)
		return;
	if (family == AF_INET) {
		d[0] = 0;
		d[1] = 0;
		d[2] = bpf_htonl(0xffff);
		d[3] = skc->skc_daddr;
	} else if (family == AF_INET6) {
		d[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		d[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		d[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		d[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
	} else {
		return;
	}
	if (tcp && sweep_peer(seq, skc, d, skc->skc_dport))
		return;
	if (!d[0] && !d[1] && d[2] == bpf_htonl(0xffff))
		sweep4(seq, skc, d[3], skc->skc_dport);
	else
		sweep6(seq, skc, d, skc->skc_dport);
}

SEC("iter/udp")
int sl_sock_sweep_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		sweep(ctx->meta->seq, &udp->inet.sk.__sk_common, 0);
	return 0;
}

SEC("iter/tcp")
int sl_sock_sweep_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (skc)
		sweep(ctx->meta->seq, skc, 1);
	return 0;
}
