// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * For the simulated cluster only: loaded on the fabric side of each node's link. A veth takes
 * frames that its peer sends with XDP_TX (native mode) only when it runs an XDP program itself,
 * as a NIC's receive path always would; this one passes everything on.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int sim_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
