/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Datapath events for `sluice monitor`: one record per drop or reject (always: they are what
 * "why did my connection fail" needs, and rare), and per new flow or affinity hit only while
 * sl_event_config asks for them, sampled. A full ring (nobody reading) loses events, never packets.
 * Layouts: ../sluice_maps.h (struct sl_event, enum sl_event_reason).
 */
#ifndef SLUICE_LIB_EVENTS_H
#define SLUICE_LIB_EVENTS_H

#include "maps.h"
#include "flow.h"

/* sl_events and sl_event_config are declared in maps.h with every other map. */

/*
 * The event enums and struct sl_event into BTF for the layout test (see sl_btf_enums in maps.h):
 * a record reserved from a ring buffer is only ever a pointer, which clang does not describe.
 */
struct sl_btf_events {
	struct sl_event			event;
	struct sl_event6		event6;
	enum sl_event_type		type;
	enum sl_event_reason		reason;
	enum sl_event_config_flag	config_flag;
	enum sl_event_size		size;
};
const struct sl_btf_events sl_btf_events SEC(".sluice.btf") = {};

/* Whether a sampled event of @type is wanted now: its flag set, and this one of every `sample`. */
static __always_inline int event_wanted(enum sl_event_type type)
{
	struct sl_event_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_event_config, &zero);
	if (!cfg || !(cfg->flags & (type == SL_EV_FLOW ? SL_EVC_F_FLOW : SL_EVC_F_AFFINITY)))
		return 0;
	return cfg->sample <= 1 || bpf_get_prandom_u32() % cfg->sample == 0;
}

/*
 * Emit an event of @type about @f's packet to frontend @svc_id: drops and rejects with their
 * @reason always, flows and affinity hits (to @backend_id) when event_wanted() says so.
 */
static __always_inline void event_emit(enum sl_event_type type, enum sl_event_reason reason,
				       const struct flow *f, __u32 svc_id, __u32 backend_id)
{
	struct sl_event *e;

	if ((type == SL_EV_FLOW || type == SL_EV_AFFINITY) && !event_wanted(type))
		return;
	e = bpf_ringbuf_reserve(&sl_events, sizeof(*e), 0);
	if (!e)
		return;
	/* Every byte written: reserved ring memory is not zeroed. */
	*e = (struct sl_event){
		.ts_ns = bpf_ktime_get_ns(), .saddr = f->saddr, .daddr = f->daddr, .sport = f->sport,
		.dport = f->dport, .proto = f->proto, .type = type, .reason = reason, .svc_id = svc_id,
		.backend_id = backend_id,
	};
	bpf_ringbuf_submit(e, 0);
}

/* event_emit() for an IPv6 packet: a struct sl_event6 record (readers tell it by its size). */
static __always_inline void event6_emit(enum sl_event_type type, enum sl_event_reason reason,
					const struct flow6 *f, __u32 svc_id, __u32 backend_id)
{
	struct sl_event6 *e;

	if ((type == SL_EV_FLOW || type == SL_EV_AFFINITY) && !event_wanted(type))
		return;
	e = bpf_ringbuf_reserve(&sl_events, sizeof(*e), 0);
	if (!e)
		return;
	/* Every byte written: reserved ring memory is not zeroed. */
	*e = (struct sl_event6){
		.ts_ns = bpf_ktime_get_ns(), .sport = f->sport, .dport = f->dport, .proto = f->proto,
		.type = type, .reason = reason, .svc_id = svc_id, .backend_id = backend_id,
	};
	ip6_copy(e->saddr, f->saddr);
	ip6_copy(e->daddr, f->daddr);
	bpf_ringbuf_submit(e, 0);
}

#endif /* SLUICE_LIB_EVENTS_H */
