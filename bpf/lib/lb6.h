/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 load balancing, decision for decision as lb.h: the frontend lookup in sl_services6 by
 * scope, loadBalancerSourceRanges in sl_src_ranges6, the backend choice (ClientIP affinity in the
 * shared sl_affinity under SL_AFF_CLIENT_ADDR6, else the frontend's Maglev run in the shared
 * sl_maglev, hashed over the IPv6 5-tuple), and lb6_decide(). sl_svc_value, sl_maglev,
 * sl_affinity and the statistics are shared with IPv4: only addresses have maps of their own.
 */
#ifndef SLUICE_LIB_LB6_H
#define SLUICE_LIB_LB6_H

#include "lb.h"
#include "nat6.h"

/* lookup3's mix of three words (the kernel's __jhash_mix). */
#define jhash_mix(a, b, c) do {				\
	a -= c; a ^= rol32(c, 4); c += b;		\
	b -= a; b ^= rol32(a, 6); a += c;		\
	c -= b; c ^= rol32(b, 8); b += a;		\
	a -= c; a ^= rol32(c, 16); c += b;		\
	b -= a; b ^= rol32(a, 19); a += c;		\
	c -= b; c ^= rol32(b, 4); b += a;		\
} while (0)

/* A hash of @f's 5-tuple, every address word in it (lookup3 over 9 words): the Maglev slot and SNAT port probes. */
static __always_inline __u32 hash_flow6(const struct flow6 *f)
{
	__u32 a, b, c;

	a = b = c = 0xdeadbeef + (9 << 2);
	a += f->saddr[0];
	b += f->saddr[1];
	c += f->saddr[2];
	jhash_mix(a, b, c);
	a += f->saddr[3];
	b += f->daddr[0];
	c += f->daddr[1];
	jhash_mix(a, b, c);
	a += f->daddr[2];
	b += f->daddr[3] ^ f->proto;
	c += ((__u32)f->sport << 16) | f->dport;
	/* lookup3's final mix, as hash_flow(). */
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* The frontend @f is addressed to, in @scope (sl_services6), or NULL. */
static __always_inline struct sl_svc_value *lb6_lookup(const struct flow6 *f, enum sl_scope scope)
{
	struct sl_svc6_key key;

	__builtin_memcpy(key.vip, f->daddr, 16);
	key.port = bpf_ntohs(f->dport);
	key.proto = f->proto;
	key.scope = scope;
	return bpf_map_lookup_elem(&sl_services6, &key);
}

/* lb_lookup_scoped() for IPv6: a pod may also reach an external frontend (short-circuit first). */
static __always_inline struct sl_svc_value *lb6_lookup_scoped(const struct flow6 *f, enum sl_scope *scope)
{
	struct sl_svc_value *svc = lb6_lookup(f, *scope);

	if (svc || *scope != SL_SCOPE_CLUSTER)
		return svc;
	/* Only where a flow begins, as lb_lookup_scoped() explains. */
	if (f->proto == IPPROTO_TCP && !flow6_is_syn(f))
		return NULL;
	svc = lb6_lookup(f, SL_SCOPE_SHORT);
	if (svc) {
		*scope = SL_SCOPE_SHORT;
		return svc;
	}
	svc = lb6_lookup(f, SL_SCOPE_EXTERNAL);
	if (svc)
		*scope = SL_SCOPE_EXTERNAL;
	return svc;
}

/* This node's IPv6 address (sl_config6), or NULL when it has none. */
static __always_inline const __be32 *node_ip6(void)
{
	struct sl_config6 *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_config6, &zero);
	if (!cfg || ip6_is_zero((const __be32 *)cfg->node_ip))
		return NULL;
	return (const __be32 *)cfg->node_ip;
}

/* loadBalancerSourceRanges: whether @f's client is in one of @svc's IPv6 ranges (or is this node). */
static __always_inline int lb6_source_allowed(const struct sl_svc_value *svc, const struct flow6 *f)
{
	struct sl_src_range6_key key = { .prefixlen = 32 + 128, .svc_id = svc->svc_id };
	const __be32 *node = node_ip6();

	if (node && ip6_eq(node, f->saddr))
		return 1;
	__builtin_memcpy(key.addr, f->saddr, 16);
	return bpf_map_lookup_elem(&sl_src_ranges6, &key) != NULL;
}

/* lb_when_empty() for IPv6: reject when no endpoint anywhere, drop when none for this traffic. */
static __always_inline enum lb_verdict lb6_when_empty(const struct sl_svc_value *svc, const struct flow6 *f,
						      __u32 *svc_id)
{
	if (svc->flags & SL_SVC_F_DROP) {
		if (svc->flags & SL_SVC_F_LOCAL) {
			count(SL_CNT_EXT_NO_LOCAL);
			event6_emit(SL_EV_DROP, SL_EV_REASON_NO_LOCAL_ENDPOINT, f, svc->svc_id, 0);
		} else {
			count_drop(SL_DROP_EMPTY);
			event6_emit(SL_EV_DROP, SL_EV_REASON_NO_USABLE_ENDPOINT, f, svc->svc_id, 0);
		}
		return LB_DROP;
	}
	*svc_id = svc->svc_id;
	event6_emit(SL_EV_REJECT, SL_EV_REASON_NO_ENDPOINTS, f, svc->svc_id, 0);
	return LB_REJECT;
}

/* The backend id in @f's slot of @svc's Maglev run (the shared sl_maglev); 0 when there is none. */
static __always_inline __u32 maglev_pick6(const struct sl_svc_value *svc, const struct flow6 *f)
{
	return svc->maglev_size ? maglev_slot_id(svc, hash_flow6(f)) : 0;
}

/* @f's client as the affinity map names it: its IPv6 address, a /128 (kube-proxy's ip6tables recent match). */
static __always_inline void affinity_key6(struct sl_aff_key *key, const struct sl_svc_value *svc, const struct flow6 *f)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->svc_id = svc->svc_id;
	key->kind = SL_AFF_CLIENT_ADDR6;
	__builtin_memcpy(key->client, f->saddr, 16);
}

/* affinity_lookup() with the backend in sl_backends6: 0 asks for a fresh choice. */
static __always_inline __u32 affinity_lookup6(const struct sl_svc_value *svc, const struct sl_aff_key *key, __u64 now)
{
	struct sl_aff_value *v;
	struct sl_backend6 *be;

	v = bpf_map_lookup_elem(&sl_affinity, key);
	if (!v)
		return 0;
	if (now - v->last_used_ns > (__u64)svc->affinity_timeout * NSEC_PER_SEC)
		return 0;
	be = bpf_map_lookup_elem(&sl_backends6, &v->backend_id);
	if (!be || be->svc_id != svc->svc_id)
		return 0;
	return v->backend_id;
}

/*
 * lb_pick_backend_for() for IPv6: the client's affine backend while it lasts, else Maglev's slot
 * for @f; NULL (counted, SL_CNT_NO_BACKEND_ENTRY) when the slot names no backend of this frontend.
 */
static __always_inline struct sl_backend6 *lb6_pick_backend_for(const struct sl_svc_value *svc, const struct flow6 *f,
								const struct sl_aff_key *client, __u64 now,
								__u32 *backend_id)
{
	struct sl_backend6 *be;
	__u32 id = 0, affine;

	if (svc->flags & SL_SVC_F_AFFINITY)
		id = affinity_lookup6(svc, client, now);
	affine = id;
	if (!id)
		id = maglev_pick6(svc, f);
	be = id ? bpf_map_lookup_elem(&sl_backends6, &id) : NULL;
	if (!be || be->svc_id != svc->svc_id) {
		count(SL_CNT_NO_BACKEND_ENTRY);
		event6_emit(SL_EV_DROP, SL_EV_REASON_NO_BACKEND_ENTRY, f, svc->svc_id, 0);
		return NULL;
	}
	if (affine)
		event6_emit(SL_EV_AFFINITY, SL_EV_REASON_NONE, f, svc->svc_id, id);
	if (svc->flags & SL_SVC_F_AFFINITY)
		affinity_record(client, id, now);
	*backend_id = id;
	return be;
}

/* lb6_pick_backend_for() with @f's client named by its address. */
static __always_inline struct sl_backend6 *lb6_pick_backend(const struct sl_svc_value *svc, const struct flow6 *f,
							    __u64 now, __u32 *backend_id)
{
	struct sl_aff_key client;

	affinity_key6(&client, svc, f);
	return lb6_pick_backend_for(svc, f, &client, now, backend_id);
}

/* lb_needs_snat() for IPv6: hairpin, or an external frontend under externalTrafficPolicy Cluster. */
static __always_inline int lb6_needs_snat(const struct sl_svc_value *svc, const struct sl_backend6 *be,
					  const struct flow6 *f, enum sl_scope scope, enum sl_scope found)
{
	/* ip[16] is the map value's first member: 8-aligned, so it is compared as words. */
	if (scope == SL_SCOPE_CLUSTER && ip6_eq((const __be32 *)be->ip, f->saddr))
		return 1;
	return found == SL_SCOPE_EXTERNAL && !(svc->flags & SL_SVC_F_LOCAL);
}

/*
 * lb_snat() for IPv6: the source becomes this node's IPv6 address (sl_config6) and a port of
 * sl_config's range whose REPLY entry this inserts exclusively (the same probes: the client's port
 * when in range and free, hashed others, then a closed flow's). @e is the flow's SERVICE entry from
 * ct6_new_entry(); on success it has its SNAT fields and @n its source. Returns 0, or -1 (drop)
 * without a node address or a free port (SL_CNT_EXT_SNAT_FAIL).
 */
static __always_inline int lb6_snat(const struct flow6 *f, struct sl_ct6_entry *e, struct nat_tuple6 *n)
{
	__u16 min = SNAT_PORT_MIN, max = SNAT_PORT_MAX, sport = bpf_ntohs(f->sport);
	const __be32 *node = node_ip6();
	__be32 be_addr[4];
	__be16 be_port = e->nat_port;
	struct sl_config *cfg;
	struct sl_ct6_key rkey;
	__u32 zero = 0, span, hash;
	int i;

	if (!node) {
		count(SL_CNT_EXT_SNAT_FAIL);
		return -1;
	}
	cfg = bpf_map_lookup_elem(&sl_config, &zero);
	if (cfg && cfg->snat_port_min && cfg->snat_port_min <= cfg->snat_port_max) {
		min = cfg->snat_port_min;
		max = cfg->snat_port_max;
	}
	span = (__u32)max - min + 1;
	hash = hash_flow6(f);
	/* @e becomes the REPLY entry while the ports are probed, then the SERVICE entry again. */
	ip6_copy(be_addr, e->nat_addr);
	ct6_as_reply(e, f);
	e->flags = SL_CT_F_SNAT;
	ip6_copy(e->rev_addr, f->saddr);
	e->rev_port = f->sport;
	for (i = 0; i < 2 * SNAT_TRIES; i++) {
		int probe = i % SNAT_TRIES;
		__u16 port = sport;
		struct sl_ct6_entry *held;

		if (probe || sport < min || sport > max)
			port = min + (hash + probe * 7919) % span;
		ct6_key_set(&rkey, be_addr, be_port, node, bpf_htons(port), f->proto, SL_CT_DIR_REPLY);
		if (i < SNAT_TRIES) {
			if (!bpf_map_update_elem(&sl_ct6, &rkey, e, BPF_NOEXIST))
				break;
			continue;
		}
		held = bpf_map_lookup_elem(&sl_ct6, &rkey);
		if (held && (held->flags & SL_CT_F_CLOSING) && !bpf_map_update_elem(&sl_ct6, &rkey, e, BPF_EXIST))
			break;
	}
	ip6_copy(e->nat_addr, be_addr);
	e->nat_port = be_port;
	if (i == 2 * SNAT_TRIES) {
		count(SL_CNT_EXT_SNAT_FAIL);
		return -1;
	}
	ip6_copy(e->rev_addr, node);
	e->rev_port = rkey.dport;
	ip6_copy(n->saddr, node);
	n->sport = rkey.dport;
	return 0;
}

/*
 * lb_decide() for IPv6: the same decision for @f arriving in @scope. A flow in sl_ct6 keeps its
 * backend; a new flow to a frontend gets one and its conntrack pair, with source NAT where
 * lb6_needs_snat() says so. Fills @n and returns enum lb_verdict; for LB_REJECT @svc_id names the
 * frontend. Reads sl_ct6, sl_services6, sl_backends6, sl_maglev, sl_affinity, sl_config6,
 * sl_config; writes sl_ct6, sl_affinity, sl_svc_stats, sl_counters, sl_events.
 */
static __always_inline enum lb_verdict lb6_decide(const struct flow6 *f, enum sl_scope scope,
						  struct nat_tuple6 *n, __u32 *svc_id)
{
	struct sl_ct6_entry *ct, e;
	struct sl_svc_value *svc;
	struct sl_backend6 *be;
	struct sl_ct6_key key;
	enum sl_scope found = scope;
	__u32 backend_id;
	__u64 now;

	/* Neither a frontend nor a SERVICE entry can have this destination (pod to pod). */
	if (!addr_maybe6(SL_ADDR_FRONTEND, f->daddr))
		return LB_UNTOUCHED;
	now = sl_now();
	nat6_identity(n, f);
	ct6_key_of(&key, f, SL_CT_DIR_SERVICE);
	ct = bpf_map_lookup_elem(&sl_ct6, &key);
	if (ct && !ct6_closed_for(ct, f)) {
		stats_add(ct->svc_id, f->len, 0);
		ct6_touch(ct, f, now);
		ip6_copy(n->daddr, ct->nat_addr);
		n->dport = ct->nat_port;
		if (ct->flags & SL_CT_F_SNAT) {
			ip6_copy(n->saddr, ct->rev_addr);
			n->sport = ct->rev_port;
			return LB_FORWARD;
		}
		if (flow6_is_syn(f))
			ct6_reassert_reply(ct, f);
		return LB_DNAT;
	}

	svc = lb6_lookup_scoped(f, &found);
	if (!svc)
		return LB_UNTOUCHED;
	if ((svc->flags & SL_SVC_F_SRC_RANGES) && !lb6_source_allowed(svc, f)) {
		count_drop(SL_DROP_SRC_RANGE);
		event6_emit(SL_EV_DROP, SL_EV_REASON_SOURCE_RANGE, f, svc->svc_id, 0);
		return LB_DROP;
	}
	if (!svc->count)
		return lb6_when_empty(svc, f, svc_id);
	be = lb6_pick_backend(svc, f, now, &backend_id);
	if (!be)
		return LB_DROP;
	__builtin_memcpy(n->daddr, be->ip, 16);
	n->dport = bpf_htons(be->port);
	ct6_new_entry(&e, svc->svc_id, backend_id, n->daddr, n->dport, now);

	if (!lb6_needs_snat(svc, be, f, scope, found)) {
		/* @ct: a closed flow's entry on this tuple, or NULL (ct_reopen_pair()). */
		if (!ct || !ct6_reopen_pair(ct, &e, f))
			ct6_insert_pair(&key, &e, f);
		stats_add(svc->svc_id, f->len, 1);
		event6_emit(SL_EV_FLOW, SL_EV_REASON_NONE, f, svc->svc_id, backend_id);
		return LB_DNAT;
	}
	if (lb6_snat(f, &e, n)) {
		event6_emit(SL_EV_DROP, SL_EV_REASON_SNAT_FAIL, f, svc->svc_id, 0);
		return LB_DROP;
	}
	if (bpf_map_update_elem(&sl_ct6, &key, &e, BPF_ANY))
		count(SL_CNT_CT_CREATE_FAIL);
	stats_add(svc->svc_id, f->len, 1);
	event6_emit(SL_EV_FLOW, SL_EV_REASON_NONE, f, svc->svc_id, backend_id);
	return LB_FORWARD;
}

#endif /* SLUICE_LIB_LB6_H */
