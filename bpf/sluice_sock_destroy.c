// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Stale-socket sweep for socket-level balancing (docs/datapath.md, "Stale sockets"). A socket
 * translated at connect() keeps its backend for life: no later packet passes a balancing decision.
 * When that backend is removed from its service, a connected UDP socket (a DNS client) would talk
 * to it forever. These socket iterators, run by the agent in each network namespace under its
 * cgroup after backends were removed, destroy the connected sockets whose backend (named by their
 * sl_sock_rev entry) is gone from sl_backends; the application sees ECONNABORTED and reconnects,
 * which translates afresh. Unconnected UDP sockets are never touched: sendmsg() translates each
 * datagram anyway (destroying them was a Cilium bug, #48564).
 *
 * Needs the bpf_sock_destroy kfunc (Linux >= 6.5); the agent loads this object separately, so
 * older kernels keep everything else.
 */
#include "lib/maps.h"

#define AF_INET		2
#define TCP_ESTABLISHED	1	/* also a connected UDP socket's state */

/* The few kernel fields read here, relocated against the running kernel's BTF (CO-RE). */
struct sock_common {
	__be32		skc_daddr;
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

/*
 * Destroy @skc when it is a connected IPv4 socket whose translated backend is gone, and write its
 * cookie to @seq so the agent can count it.
 */
static __always_inline void sweep(struct seq_file *seq, struct sock_common *skc)
{
	struct sl_sock_rev_key key = {};
	struct sl_sock_rev_value *rev;

	if (skc->skc_family != AF_INET || skc->skc_state != TCP_ESTABLISHED)
		return;
	key.cookie = bpf_get_socket_cookie(skc);
	key.backend_addr = skc->skc_daddr;
	key.backend_port = skc->skc_dport;
	/* The entry names the peer it was translated to: a socket reconnected elsewhere has none. */
	rev = bpf_map_lookup_elem(&sl_sock_rev, &key);
	if (!rev || bpf_map_lookup_elem(&sl_backends, &rev->backend_id))
		return;
	if (bpf_sock_destroy(skc))
		return;
	bpf_map_delete_elem(&sl_sock_rev, &key);
	bpf_seq_write(seq, &key.cookie, sizeof(key.cookie));
}

SEC("iter/udp")
int sl_sock_sweep_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		sweep(ctx->meta->seq, &udp->inet.sk.__sk_common);
	return 0;
}

SEC("iter/tcp")
int sl_sock_sweep_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (skc)
		sweep(ctx->meta->seq, skc);
	return 0;
}
