/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pinned maps, shared by every datapath object: each object declares them all with the same
 * shape, the agent gives them the same sizes, and the first object loaded pins them under the
 * node's directory by name while the others reuse those pins. Layouts: ../sluice_maps.h.
 */
#ifndef SLUICE_LIB_MAPS_H
#define SLUICE_LIB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sluice_maps.h"

/* A map pinned by its name: what `bpftool map show pinned <dir>/<name>` finds. */
#define SL_PINNED_MAP(_name, _type, _entries, _key, _value, _flags)	\
	struct {							\
		__uint(type, _type);					\
		__uint(max_entries, _entries);				\
		__uint(map_flags, _flags);				\
		__type(key, _key);					\
		__type(value, _value);					\
		__uint(pinning, LIBBPF_PIN_BY_NAME);			\
	} _name SEC(".maps")

/* Frontends: (address, port, protocol, scope) -> service entry. */
SL_PINNED_MAP(sl_services, BPF_MAP_TYPE_HASH, SL_MAX_SERVICES, struct sl_svc_key, struct sl_svc_value, 0);
/* Backends by id. */
SL_PINNED_MAP(sl_backends, BPF_MAP_TYPE_HASH, SL_MAX_BACKENDS, __u32, struct sl_backend, 0);
/*
 * All frontends' Maglev tables, each a contiguous run: maglev_size u16 slots, then the frontend's
 * backend ids (sluice_maps.h, sl_maglev_chunk). Mmapable so the agent writes a whole table with one memcpy; a table is
 * written into free slots first and only then published by the service entry.
 */
SL_PINNED_MAP(sl_maglev, BPF_MAP_TYPE_ARRAY, SL_MAGLEV_SLOTS / SL_MAGLEV_CHUNK, __u32,
	      struct sl_maglev_chunk, BPF_F_MMAPABLE);
/* Both directions of every balanced flow. */
SL_PINNED_MAP(sl_ct, BPF_MAP_TYPE_LRU_HASH, SL_MAX_CT, struct sl_ct_key, struct sl_ct_entry, 0);
/* sessionAffinity ClientIP: (frontend, client) -> backend. */
SL_PINNED_MAP(sl_affinity, BPF_MAP_TYPE_LRU_HASH, SL_MAX_AFFINITY, struct sl_aff_key, struct sl_aff_value, 0);
/* Per-frontend counters, indexed by svc_id. */
SL_PINNED_MAP(sl_svc_stats, BPF_MAP_TYPE_PERCPU_ARRAY, SL_MAX_SERVICES, __u32, struct sl_svc_stats, 0);
/* Node-wide counters, indexed by enum sl_counter. */
SL_PINNED_MAP(sl_counters, BPF_MAP_TYPE_PERCPU_ARRAY, SL_CNT_MAX, __u32, __u64, 0);
/* What the datapath must know about its node (one element). */
SL_PINNED_MAP(sl_config, BPF_MAP_TYPE_ARRAY, 1, __u32, struct sl_config, 0);
/* The layout version of these pins (one element), for the next agent; the datapath never reads it. */
SL_PINNED_MAP(sl_meta, BPF_MAP_TYPE_ARRAY, 1, __u32, struct sl_meta, 0);
/* loadBalancerSourceRanges per frontend (LPM tries must not be preallocated). */
SL_PINNED_MAP(sl_src_ranges, BPF_MAP_TYPE_LPM_TRIE, SL_MAX_SERVICES, struct sl_src_range_key, __u8, BPF_F_NO_PREALLOC);
/* Drops by reason, indexed by enum sl_drop. */
SL_PINNED_MAP(sl_drops, BPF_MAP_TYPE_PERCPU_ARRAY, SL_DROP_MAX, __u32, __u64, 0);
/* Socket-level balancing: which sockets (one element), reverse translation, per-frontend counters. */
SL_PINNED_MAP(sl_sock_config, BPF_MAP_TYPE_ARRAY, 1, __u32, struct sl_sock_config, 0);
SL_PINNED_MAP(sl_sock_rev, BPF_MAP_TYPE_LRU_HASH, SL_MAX_SOCK_REV, struct sl_sock_rev_key,
	      struct sl_sock_rev_value, 0);
/*
 * A connected TCP socket's reverse translation, in the socket itself (sluice_maps.h: sl_sock_peer).
 * Storage has no size (max_entries 0) and allocates on use (BPF_F_NO_PREALLOC, which it requires);
 * the key is a socket (an fd from user space).
 */
SL_PINNED_MAP(sl_sock_peer, BPF_MAP_TYPE_SK_STORAGE, 0, int, struct sl_sock_peer, BPF_F_NO_PREALLOC);
SL_PINNED_MAP(sl_sock_stats, BPF_MAP_TYPE_PERCPU_ARRAY, SL_MAX_SERVICES, __u32, struct sl_sock_stats, 0);
/* IP fragments: a datagram's ports, from its first fragment to the later ones (lib/frag.h). */
SL_PINNED_MAP(sl_frags, BPF_MAP_TYPE_LRU_HASH, SL_MAX_FRAGS, struct sl_frag_key, struct sl_frag_ports, 0);
/* Addresses that may be frontends or reply sources (sluice_maps.h, lib/addr_filter.h). */
SL_PINNED_MAP(sl_addr_filter, BPF_MAP_TYPE_ARRAY, 2 * SL_ADDR_FILTER_WORDS, __u32, __u64, 0);
/*
 * IPv6 twins of the maps above that hold addresses (sluice_maps.h); sized by the agent like them.
 * Only the agent writes frontends and backends, so those two are not preallocated: an IPv4-only
 * cluster pays no memory for them.
 */
SL_PINNED_MAP(sl_services6, BPF_MAP_TYPE_HASH, SL_MAX_SERVICES, struct sl_svc6_key, struct sl_svc_value,
	      BPF_F_NO_PREALLOC);
SL_PINNED_MAP(sl_backends6, BPF_MAP_TYPE_HASH, SL_MAX_BACKENDS, __u32, struct sl_backend6, BPF_F_NO_PREALLOC);
SL_PINNED_MAP(sl_ct6, BPF_MAP_TYPE_LRU_HASH, SL_MAX_CT6, struct sl_ct6_key, struct sl_ct6_entry, 0);
SL_PINNED_MAP(sl_src_ranges6, BPF_MAP_TYPE_LPM_TRIE, SL_MAX_SERVICES, struct sl_src_range6_key, __u8,
	      BPF_F_NO_PREALLOC);
SL_PINNED_MAP(sl_config6, BPF_MAP_TYPE_ARRAY, 1, __u32, struct sl_config6, 0);
SL_PINNED_MAP(sl_frags6, BPF_MAP_TYPE_LRU_HASH, SL_MAX_FRAGS, struct sl_frag6_key, struct sl_frag_ports, 0);
SL_PINNED_MAP(sl_sock_rev6, BPF_MAP_TYPE_LRU_HASH, SL_MAX_SOCK_REV, struct sl_sock_rev6_key,
	      struct sl_sock_rev6_value, 0);
/* The ring buffer `sluice monitor` reads (bpf/lib/events.h), and what it asks for beyond drops and rejects. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_events SEC(".maps");
SL_PINNED_MAP(sl_event_config, BPF_MAP_TYPE_ARRAY, 1, __u32, struct sl_event_config, 0);

/*
 * Emits the enums of sluice_maps.h into the object's BTF, where the layout test reads them
 * (clang only describes types something uses). libbpf skips this section: it is no map.
 */
struct sl_btf_enums {
	enum sl_layout		layout;
	enum sl_aff_client	aff_client;
	enum sl_size		size;
	enum sl_scope		scope;
	enum sl_svc_flag	svc_flag;
	enum sl_be_flag		be_flag;
	enum sl_ct_dir		ct_dir;
	enum sl_ct_flag		ct_flag;
	enum sl_counter		counter;
	enum sl_drop		drop;
	enum sl_sock_mode	sock_mode;
	enum sl_sock_size	sock_size;
	enum sl_frag_size	frag_size;
	enum sl_addr_kind	addr_kind;
	enum sl_addr_filter_size addr_filter_size;
	enum sl_size6		size6;
};
const struct sl_btf_enums sl_btf_enums SEC(".sluice.btf") = {};

#endif /* SLUICE_LIB_MAPS_H */
