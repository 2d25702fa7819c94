/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load balancing: the service lookup, the backend choice (ClientIP affinity, else Maglev), and
 * lb_decide(), the one balancing decision every entry point calls.
 */
#ifndef SLUICE_LIB_LB_H
#define SLUICE_LIB_LB_H

#include "conntrack.h"
#include "events.h"
#include "nat.h"

/* What the entry point is to do with a packet after lb_decide(). */
enum lb_verdict {
	LB_UNTOUCHED = 0,	/* no service or flow of ours: leave the packet as it is */
	LB_DNAT,		/* translated to the nat_tuple (destination): deliver it as routed */
	LB_FORWARD,		/* translated to the nat_tuple (source too): send it to the next hop ourselves */
	LB_REJECT,		/* a frontend without endpoints anywhere: refuse the connection */
	LB_DROP,		/* cannot be balanced: drop */
};

/* Bob Jenkins' lookup3 final mix, as the kernel's jhash_3words uses it. */
#define rol32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

/* A hash of @f's 5-tuple: the Maglev slot, and where SNAT ports are probed. */
static __always_inline __u32 hash_flow(const struct flow *f)
{
	__u32 a = f->saddr, b = f->daddr ^ f->proto;
	__u32 c = ((__u32)f->sport << 16) | f->dport;

	a += 0xdeadbeef + 12;
	b += 0xdeadbeef + 12;
	c += 0xdeadbeef + 12;
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* The frontend @f is addressed to, in @scope (sl_services), or NULL. */
static __always_inline struct sl_svc_value *lb_lookup(const struct flow *f, enum sl_scope scope)
{
	struct sl_svc_key key = {};

	__builtin_memcpy(key.vip, &f->daddr, 4);
	key.port = bpf_ntohs(f->dport);
	key.proto = f->proto;
	key.scope = scope;
	return bpf_map_lookup_elem(&sl_services, &key);
}

/*
 * The frontend @f is addressed to, arriving in @scope. A pod (SL_SCOPE_CLUSTER) may also address
 * an external one (this node's NodePort, an externalIP, a LoadBalancer IP): kube-proxy serves that
 * in the pod's own node, with the short-circuit set of externalTrafficPolicy Local services.
 * On return @scope is the scope of the frontend found.
 */
static __always_inline struct sl_svc_value *lb_lookup_scoped(const struct flow *f, enum sl_scope *scope)
{
	struct sl_svc_value *svc = lb_lookup(f, *scope);

	if (svc || *scope != SL_SCOPE_CLUSTER)
		return svc;
	/*
	 * Every packet without a conntrack entry comes here, direct pod-to-pod traffic included: look
	 * for an external frontend only where a flow begins (TCP SYN, or UDP), which is where its
	 * conntrack pair is made. A cluster IP keeps its lookup on every packet, so a flow whose entry
	 * was evicted lands on the same Maglev backend again.
	 */
	if (f->proto == IPPROTO_TCP && !flow_is_syn(f))
		return NULL;
	svc = lb_lookup(f, SL_SCOPE_SHORT);
	if (svc) {
		*scope = SL_SCOPE_SHORT;
		return svc;
	}
	svc = lb_lookup(f, SL_SCOPE_EXTERNAL);
	if (svc)
		*scope = SL_SCOPE_EXTERNAL;
	return svc;
}

/*
 * loadBalancerSourceRanges: whether @f's client is in one of @svc's ranges (sl_src_ranges). The
 * node's own address always is, as kube-proxy lets the node reach its own LoadBalancer.
 */
static __always_inline int lb_source_allowed(const struct sl_svc_value *svc, const struct flow *f)
{
	struct sl_src_range_key key = { .prefixlen = 64, .svc_id = svc->svc_id };
	struct sl_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sl_config, &zero);
	if (cfg && cfg->node_ip && cfg->node_ip == f->saddr)
		return 1;
	__builtin_memcpy(key.addr, &f->saddr, 4);
	return bpf_map_lookup_elem(&sl_src_ranges, &key) != NULL;
}

/*
 * A new flow to @svc, which has no backend for it: kube-proxy rejects when the service has no
 * endpoint anywhere and drops when endpoints exist but none for this traffic (policy Local).
 */
static __always_inline enum lb_verdict lb_when_empty(const struct sl_svc_value *svc, const struct flow *f,
						     __u32 *svc_id)
{
	if (svc->flags & SL_SVC_F_DROP) {
		if (svc->flags & SL_SVC_F_LOCAL) {
			count(SL_CNT_EXT_NO_LOCAL);
			event_emit(SL_EV_DROP, SL_EV_REASON_NO_LOCAL_ENDPOINT, f, svc->svc_id, 0);
		} else {
			count_drop(SL_DROP_EMPTY);
			event_emit(SL_EV_DROP, SL_EV_REASON_NO_USABLE_ENDPOINT, f, svc->svc_id, 0);
		}
		return LB_DROP;
	}
	*svc_id = svc->svc_id;
	event_emit(SL_EV_REJECT, SL_EV_REASON_NO_ENDPOINTS, f, svc->svc_id, 0);
	return LB_REJECT;
}

/*
 * The backend id in slot @hash (mod M) of @svc's Maglev run in sl_maglev, which both families and
 * the socket programs share; 0 when there is none. The slot holds the backend's index in the
 * frontend's list of ids, which follows the M slots in the same run (sluice_maps.h,
 * sl_maglev_chunk): two array lookups, both inlined by the verifier.
 */
static __always_inline __u32 maglev_slot_id(const struct sl_svc_value *svc, __u32 hash)
{
	__u32 size = svc->maglev_size, slot, chunk, idx;
	struct sl_maglev_chunk *c;

	if (!size)
		return 0;
	slot = 2 * svc->maglev_base + hash % size;
	chunk = slot / SL_MAGLEV_CHUNK;
	c = bpf_map_lookup_elem(&sl_maglev, &chunk);
	if (!c)
		return 0;
	idx = c->slot[slot & (SL_MAGLEV_CHUNK - 1)];
	/* The id's first slot: even, so both of its halves are in this chunk. */
	slot = 2 * (svc->maglev_base + (size + 1) / 2 + idx);
	chunk = slot / SL_MAGLEV_CHUNK;
	c = bpf_map_lookup_elem(&sl_maglev, &chunk);
	if (!c)
		return 0;
	return *(__u32 *)&c->slot[slot & (SL_MAGLEV_CHUNK - 2)];
}

/* The backend id in @f's slot of @svc's Maglev run; 0 when there is none. */
static __always_inline __u32 maglev_pick(const struct sl_svc_value *svc, const struct flow *f)
{
	return svc->maglev_size ? maglev_slot_id(svc, hash_flow(f)) : 0;
}

/* @f's client as the affinity map names it: by its IPv4 address (pad and unused bytes zero). */
static __always_inline void affinity_key(struct sl_aff_key *key, const struct sl_svc_value *svc, const struct flow *f)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->svc_id = svc->svc_id;
	key->kind = SL_AFF_CLIENT_ADDR4;
	__builtin_memcpy(key->client, &f->saddr, sizeof(f->saddr));
}

/*
 * sessionAffinity ClientIP: the backend id the client named by @key had, while it is still this
 * frontend's and was chosen less than affinity_timeout ago. Returns 0 to ask for a fresh choice.
 */
static __always_inline __u32 affinity_lookup(const struct sl_svc_value *svc, const struct sl_aff_key *key,
					     __u64 now)
{
	struct sl_aff_value *v;
	struct sl_backend *be;

	v = bpf_map_lookup_elem(&sl_affinity, key);
	if (!v)
		return 0;
	if (now - v->last_used_ns > (__u64)svc->affinity_timeout * NSEC_PER_SEC)
		return 0;
	be = bpf_map_lookup_elem(&sl_backends, &v->backend_id);
	if (!be || be->svc_id != svc->svc_id)
		return 0;
	return v->backend_id;
}

/* Remember (or refresh) @backend_id as the backend of the client named by @key. */
static __always_inline void affinity_record(const struct sl_aff_key *key, __u32 backend_id, __u64 now)
{
	struct sl_aff_value v = { .backend_id = backend_id, .last_used_ns = now };

	bpf_map_update_elem(&sl_affinity, key, &v, BPF_ANY);
}

/*
 * The backend for a new flow to @svc from the client named by @client (affinity key, used only
 * with SL_SVC_F_AFFINITY): the client's affine one while it lasts, else Maglev's slot for @f.
 * Returns it with its id in @backend_id, or NULL (counted: SL_CNT_NO_BACKEND_ENTRY) when the slot
 * names no backend of this frontend. Packets name the client by address, sockets by netns cookie.
 */
static __always_inline struct sl_backend *lb_pick_backend_for(const struct sl_svc_value *svc, const struct flow *f,
							      const struct sl_aff_key *client, __u64 now,
							      __u32 *backend_id)
{
	struct sl_backend *be;
	__u32 id = 0, affine;

	if (svc->flags & SL_SVC_F_AFFINITY)
		id = affinity_lookup(svc, client, now);
	affine = id;
	if (!id)
		id = maglev_pick(svc, f);
	be = id ? bpf_map_lookup_elem(&sl_backends, &id) : NULL;
	/* A table run read just as it was recycled could name another frontend's backend. */
	if (!be || be->svc_id != svc->svc_id) {
		count(SL_CNT_NO_BACKEND_ENTRY);
		event_emit(SL_EV_DROP, SL_EV_REASON_NO_BACKEND_ENTRY, f, svc->svc_id, 0);
		return NULL;
	}
	if (affine)
		event_emit(SL_EV_AFFINITY, SL_EV_REASON_NONE, f, svc->svc_id, id);
	if (svc->flags & SL_SVC_F_AFFINITY)
		affinity_record(client, id, now);
	*backend_id = id;
	return be;
}

/* lb_pick_backend_for() with @f's client named by its address. */
static __always_inline struct sl_backend *lb_pick_backend(const struct sl_svc_value *svc, const struct flow *f,
							  __u64 now, __u32 *backend_id)
{
	struct sl_aff_key client;

	affinity_key(&client, svc, f);
	return lb_pick_backend_for(svc, f, &client, now, backend_id);
}

/*
 * Whether a new flow @f to @be, arriving in @scope at a frontend of scope @found, must also be
 * source-NATed to this node (kube-proxy's masquerade). An external frontend under
 * externalTrafficPolicy Cluster always, whichever node runs the backend and whether the client is
 * outside or a pod here, as kube-proxy marks all such traffic for masquerade; Local keeps the
 * client's address (and this node's endpoints; pods short-circuit, SL_SCOPE_SHORT). A pod also
 * when it reaches itself (hairpin: it would not accept its own address as source).
 */
static __always_inline int lb_needs_snat(const struct sl_svc_value *svc, const struct sl_backend *be,
					 const struct flow *f, enum sl_scope scope, enum sl_scope found)
{
	if (scope == SL_SCOPE_CLUSTER && !__builtin_memcmp(be->ip, &f->saddr, 4))
		return 1;
	return found == SL_SCOPE_EXTERNAL && !(svc->flags & SL_SVC_F_LOCAL);
}

/* Without a range from the agent (sl_config): the old fixed one, Linux's default ephemeral range. */
#define SNAT_PORT_MIN	32768
#define SNAT_PORT_MAX	60999
#define SNAT_TRIES	4

/*
 * Source NAT for new flow @f (entries @fwd/@rev from ct_new_pair()): replies must come back here,
 * so the source becomes this node's address (sl_config) and a port whose REPLY entry this inserts
 * exclusively. The REPLY key names the backend, so flows to this node's backends, to other nodes'
 * and hairpin flows draw from one reservation and never share a tuple. Ports come from sl_config's
 * range, which the agent keeps outside the node's ephemeral range, so the node's own connections
 * never take one. Keeps the client's port when it is in that range and free towards that backend,
 * else probes a few hashed others. When none is free, a port still held by a closed flow (FIN/RST
 * seen) is taken over, as TCP reuses TIME_WAIT: under a stream of short connections, closed flows
 * would otherwise hold every candidate. Sets @n's source and @fwd's SNAT fields and
 * returns 0; returns -1 (drop) without a node address or a free port (SL_CNT_EXT_SNAT_FAIL).
 */
static __always_inline int lb_snat(const struct flow *f, struct sl_ct_entry *fwd, struct sl_ct_entry *rev,
				   struct nat_tuple *n)
{
	__u16 min = SNAT_PORT_MIN, max = SNAT_PORT_MAX, sport = bpf_ntohs(f->sport);
	struct sl_config *cfg;
	struct sl_ct_key rkey;
	__u32 zero = 0, span;
	int i;

	cfg = bpf_map_lookup_elem(&sl_config, &zero);
	if (!cfg || !cfg->node_ip)
		return -1;
	if (cfg->snat_port_min && cfg->snat_port_min <= cfg->snat_port_max) {
		min = cfg->snat_port_min;
		max = cfg->snat_port_max;
	}
	span = (__u32)max - min + 1;
	rev->flags = SL_CT_F_SNAT;
	rev->rev_addr = f->saddr;
	rev->rev_port = f->sport;
	/*
	 * Probe 0 keeps the client's port (when in range), the others hash. A free port first: taking
	 * over a closed flow's port right away could meet the backend's socket of that flow still
	 * closing, whose answer to the new SYN costs the client a 1 s retransmission. Only when every
	 * probe is held is a closed flow's port taken over (second pass), as TCP reuses TIME_WAIT.
	 */
	for (i = 0; i < 2 * SNAT_TRIES; i++) {
		int probe = i % SNAT_TRIES;
		__u16 port = sport;
		struct sl_ct_entry *held;

		if (probe || sport < min || sport > max)
			port = min + (hash_flow(f) + probe * 7919) % span;

		ct_key_set(&rkey, fwd->nat_addr, fwd->nat_port, cfg->node_ip, bpf_htons(port), f->proto,
			   SL_CT_DIR_REPLY);
		if (i < SNAT_TRIES) {
			if (!bpf_map_update_elem(&sl_ct, &rkey, rev, BPF_NOEXIST))
				break;
			continue;
		}
		held = bpf_map_lookup_elem(&sl_ct, &rkey);
		if (held && (held->flags & SL_CT_F_CLOSING) &&
		    !bpf_map_update_elem(&sl_ct, &rkey, rev, BPF_EXIST))
			break;
	}
	if (i == 2 * SNAT_TRIES) {
		count(SL_CNT_EXT_SNAT_FAIL);
		return -1;
	}
	fwd->flags = SL_CT_F_SNAT;
	fwd->rev_addr = cfg->node_ip;
	fwd->rev_port = rkey.dport;
	n->saddr = cfg->node_ip;
	n->sport = rkey.dport;
	return 0;
}

/*
 * The balancing decision for @f arriving in @scope (pods: SL_SCOPE_CLUSTER; the external
 * interface: SL_SCOPE_EXTERNAL), the same for both so a client lands on the same backend either
 * way. A flow already in conntrack keeps its backend; a new flow to a frontend gets one
 * (lb_pick_backend()), and its conntrack pair, with source NAT where lb_needs_snat() says so.
 * Fills @n with what @f's addresses and ports become and returns what to do (enum lb_verdict);
 * for LB_REJECT, @svc_id names the frontend. Reads sl_ct, sl_services, sl_backends, sl_maglev,
 * sl_affinity, sl_config, sl_event_config; writes sl_ct, sl_affinity, sl_svc_stats, sl_counters,
 * sl_events.
 */
static __always_inline enum lb_verdict lb_decide(const struct flow *f, enum sl_scope scope,
						 struct nat_tuple *n, __u32 *svc_id)
{
	struct sl_ct_entry *ct, fwd, rev;
	struct sl_svc_value *svc;
	struct sl_backend *be;
	struct sl_ct_key key;
	enum sl_scope found = scope;
	__u32 backend_id;
	__u64 now;

	/* Neither a frontend nor a SERVICE entry can have this destination (pod to pod, socket-LB). */
	if (!addr_maybe(SL_ADDR_FRONTEND, f->daddr))
		return LB_UNTOUCHED;
	now = sl_now();
	nat_identity(n, f);
	ct_key_of(&key, f, SL_CT_DIR_SERVICE);
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (ct && !ct_closed_for(ct, f)) {
		stats_add(ct->svc_id, f->len, 0);
		ct_touch(ct, f, now);
		n->daddr = ct->nat_addr;
		n->dport = ct->nat_port;
		if (ct->flags & SL_CT_F_SNAT) {
			n->saddr = ct->rev_addr;
			n->sport = ct->rev_port;
			return LB_FORWARD;
		}
		if (flow_is_syn(f))
			ct_reassert_reply(ct, f);
		return LB_DNAT;
	}

	svc = lb_lookup_scoped(f, &found);
	if (!svc)
		return LB_UNTOUCHED;
	if ((svc->flags & SL_SVC_F_SRC_RANGES) && !lb_source_allowed(svc, f)) {
		count_drop(SL_DROP_SRC_RANGE);
		event_emit(SL_EV_DROP, SL_EV_REASON_SOURCE_RANGE, f, svc->svc_id, 0);
		return LB_DROP;
	}
	if (!svc->count)
		return lb_when_empty(svc, f, svc_id);
	be = lb_pick_backend(svc, f, now, &backend_id);
	if (!be)
		return LB_DROP;
	__builtin_memcpy(&n->daddr, be->ip, 4);
	n->dport = bpf_htons(be->port);
	ct_new_pair(&fwd, &rev, f, svc->svc_id, backend_id, n->daddr, n->dport, now);

	if (!lb_needs_snat(svc, be, f, scope, found)) {
		/* @ct: a closed flow's entry on this tuple, or NULL. */
		if (!ct || !ct_reopen_pair(ct, &fwd, &rev, f))
			ct_insert_pair(&key, &fwd, &rev, f);
		stats_add(svc->svc_id, f->len, 1);
		event_emit(SL_EV_FLOW, SL_EV_REASON_NONE, f, svc->svc_id, backend_id);
		return LB_DNAT;
	}
	if (lb_snat(f, &fwd, &rev, n)) {
		event_emit(SL_EV_DROP, SL_EV_REASON_SNAT_FAIL, f, svc->svc_id, 0);
		return LB_DROP;
	}
	if (bpf_map_update_elem(&sl_ct, &key, &fwd, BPF_ANY))
		count(SL_CNT_CT_CREATE_FAIL);
	stats_add(svc->svc_id, f->len, 1);
	event_emit(SL_EV_FLOW, SL_EV_REASON_NONE, f, svc->svc_id, backend_id);
	return LB_FORWARD;
}

#endif /* SLUICE_LIB_LB_H */
