// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice on sockets: cgroup v2 programs at the agent's --cgroup-root (docs/datapath.md,
 * "Socket-level balancing").
 *
 *   sl_sock_connect4  (connect(), TCP and UDP)  service address -> backend (lib/sock.h)
 *   sl_sock_sendmsg4  (sendto() on unconnected UDP)  the same, per datagram
 *   sl_sock_recvmsg4  (recvfrom() on UDP)  a reply's source backend -> the service address
 *   sl_sock_getpeername4  the peer a translated socket reports -> the service address
 *   sl_sock_connect6, _sendmsg6, _recvmsg6, _getpeername6  the same for IPv6 sockets (lib/sock6.h),
 *     IPv6 frontends through the IPv6 maps, IPv4-mapped ones (dual-stack sockets) through the IPv4 maps
 *
 * No bind4/post_bind4 guard: kube-proxy no longer holds NodePorts open, and a host process bound to
 * a NodePort never sees its traffic here either (the external interface's programs translate it
 * first).
 */
#include "lib/sock6.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int sl_sock_connect4(struct bpf_sock_addr *ctx)
{
	return sock4_translate(ctx);
}

SEC("cgroup/sendmsg4")
int sl_sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock4_translate(ctx);
}

SEC("cgroup/recvmsg4")
int sl_sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock4_reverse(ctx);
}

SEC("cgroup/getpeername4")
int sl_sock_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock4_reverse(ctx);
}

SEC("cgroup/connect6")
int sl_sock_connect6(struct bpf_sock_addr *ctx)
{
	return sock6_translate(ctx);
}

SEC("cgroup/sendmsg6")
int sl_sock_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock6_translate(ctx);
}

SEC("cgroup/recvmsg6")
int sl_sock_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock6_reverse(ctx);
}

SEC("cgroup/getpeername6")
int sl_sock_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock6_reverse(ctx);
}
