/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Node-wide event counters (sl_counters) and per-frontend statistics (sl_svc_stats). */
#ifndef SLUICE_LIB_COUNTERS_H
#define SLUICE_LIB_COUNTERS_H

#include "maps.h"

/* Add one to node-wide counter @idx (enum sl_counter). */
static __always_inline void count(enum sl_counter idx)
{
	__u32 key = idx;
	__u64 *c = bpf_map_lookup_elem(&sl_counters, &key);

	if (c)
		*c += 1;
}

/* Add one to drop reason @idx (enum sl_drop). */
static __always_inline void count_drop(enum sl_drop idx)
{
	__u32 key = idx;
	__u64 *c = bpf_map_lookup_elem(&sl_drops, &key);

	if (c)
		*c += 1;
}

/* Account one client -> service packet of @len bytes to frontend @svc_id; @new_conn: it opened a flow. */
static __always_inline void stats_add(__u32 svc_id, __u32 len, int new_conn)
{
	struct sl_svc_stats *s = bpf_map_lookup_elem(&sl_svc_stats, &svc_id);

	if (!s)
		return;
	s->packets++;
	s->bytes += len;
	if (new_conn)
		s->conns++;
}

/* Account a packet to frontend @svc_id refused for lack of endpoints. */
static __always_inline void stats_reject(__u32 svc_id)
{
	struct sl_svc_stats *s = bpf_map_lookup_elem(&sl_svc_stats, &svc_id);

	if (s)
		s->rejects++;
}

#endif /* SLUICE_LIB_COUNTERS_H */
