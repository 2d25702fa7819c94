/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Conntrack (sl_ct): every balanced flow has a SERVICE entry, keyed as the client sends, that
 * names its backend, and a REPLY entry, keyed as the backend answers, that names the service
 * address to restore. Entries are written by the datapath; only the agent expires them.
 */
#ifndef SLUICE_LIB_CONNTRACK_H
#define SLUICE_LIB_CONNTRACK_H

#include "addr_filter.h"
#include "counters.h"
#include "parse.h"

#define NSEC_PER_SEC		1000000000ULL
#define CT_REFRESH_NS		NSEC_PER_SEC	/* bound conntrack writes per flow */

/*
 * The clock of conntrack and affinity timestamps: CLOCK_MONOTONIC at tick resolution (what the
 * agent's GC compares with). Timeouts are seconds, and the coarse clock costs a fraction of
 * bpf_ktime_get_ns() (bench/pktcost.ts); every writer of these timestamps must use it.
 */
static __always_inline __u64 sl_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* The one place a conntrack key is built: a packet from saddr:sport to daddr:dport. */
static __always_inline void ct_key_set(struct sl_ct_key *k, __be32 saddr, __be16 sport, __be32 daddr,
				       __be16 dport, __u8 proto, enum sl_ct_dir dir)
{
	*k = (struct sl_ct_key){
		.saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport, .proto = proto, .dir = dir,
	};
}

/* Key of @f as it travels, looked up in direction @dir. */
static __always_inline void ct_key_of(struct sl_ct_key *k, const struct flow *f, enum sl_ct_dir dir)
{
	ct_key_set(k, f->saddr, f->sport, f->daddr, f->dport, f->proto, dir);
}

/*
 * Whether SERVICE entry @ct no longer carries @f: a fresh SYN on the tuple of a closed flow (port
 * reuse) is a new connection, which the caller balances afresh (and may reopen @ct for,
 * ct_reopen_pair()).
 */
static __always_inline int ct_closed_for(const struct sl_ct_entry *ct, const struct flow *f)
{
	return (ct->flags & SL_CT_F_CLOSING) && flow_is_syn(f);
}

/* Mark @ct closing on FIN/RST and refresh its timestamp, at most once a second otherwise. */
static __always_inline void ct_touch(struct sl_ct_entry *ct, const struct flow *f, __u64 now)
{
	if (f->tcp_flags & (TCPF_FIN | TCPF_RST)) {
		if (!(ct->flags & SL_CT_F_CLOSING))
			ct->flags |= SL_CT_F_CLOSING;
		ct->last_seen_ns = now;
	} else if (now - ct->last_seen_ns > CT_REFRESH_NS) {
		ct->last_seen_ns = now;
	}
}

/*
 * The backend answered (@ct, the REPLY entry under @k): mark it and its SERVICE entry, so the GC
 * gives the flow the established timeout. Until then an unanswered attempt (a SYN flood, a dead
 * backend) holds conntrack only for the agent's short SYN timeout. Once per flow.
 */
static __always_inline void ct_mark_replied(const struct sl_ct_key *k, struct sl_ct_entry *ct)
{
	struct sl_ct_entry *fwd;
	struct sl_ct_key fkey;

	if (ct->flags & SL_CT_F_REPLIED)
		return;
	ct->flags |= SL_CT_F_REPLIED;
	/* The client is the reply's destination, or with source NAT the address it was NATed from. */
	if (ct->flags & SL_CT_F_SNAT)
		ct_key_set(&fkey, ct->rev_addr, ct->rev_port, ct->nat_addr, ct->nat_port, k->proto, SL_CT_DIR_SERVICE);
	else
		ct_key_set(&fkey, k->daddr, k->dport, ct->nat_addr, ct->nat_port, k->proto, SL_CT_DIR_SERVICE);
	fwd = bpf_map_lookup_elem(&sl_ct, &fkey);
	if (fwd)
		fwd->flags |= SL_CT_F_REPLIED;
}

/* The REPLY entry matching SERVICE entry @fwd of @f: the same flow, translating back to the address @f was sent to. */
static __always_inline void ct_reply_entry(struct sl_ct_entry *rev, const struct sl_ct_entry *fwd, const struct flow *f)
{
	*rev = *fwd;
	rev->nat_addr = f->daddr;
	rev->nat_port = f->dport;
}

/*
 * A new flow's two conntrack entries: @fwd (client -> service) translates to the backend, @rev
 * (backend -> client) back to the service address the client used. The backend becomes a reply
 * source in the address filter first: the REPLY entry is keyed by its address.
 */
static __always_inline void ct_new_pair(struct sl_ct_entry *fwd, struct sl_ct_entry *rev, const struct flow *f,
					__u32 svc_id, __u32 backend_id, __be32 be_addr, __be16 be_port, __u64 now)
{
	addr_filter_add(SL_ADDR_REPLY_SRC, be_addr);
	*fwd = (struct sl_ct_entry){
		.nat_addr = be_addr, .nat_port = be_port, .svc_id = svc_id, .backend_id = backend_id,
		.created_ns = now, .last_seen_ns = now,
	};
	ct_reply_entry(rev, fwd, f);
}

/*
 * Record both entries of a flow whose reply comes back unchanged (no source NAT): the REPLY key
 * is the backend's answer to @f's client. Reply entry first: a reply can never find the forward
 * entry without it. A failed insert is counted, and the flow is balanced statelessly.
 */
static __always_inline void ct_insert_pair(const struct sl_ct_key *fkey, const struct sl_ct_entry *fwd,
					   const struct sl_ct_entry *rev, const struct flow *f)
{
	struct sl_ct_key rkey;

	ct_key_set(&rkey, fwd->nat_addr, fwd->nat_port, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	if (bpf_map_update_elem(&sl_ct, &rkey, rev, BPF_ANY) ||
	    bpf_map_update_elem(&sl_ct, fkey, fwd, BPF_ANY))
		count(SL_CNT_CT_CREATE_FAIL);
}

/*
 * A new flow @f whose tuple a closed flow used (port reuse: a client opening connections at a
 * high rate comes back to a port within the closing timeout), balanced to the same backend of the
 * same frontend: its entries are reused in place (as Cilium reopens a closing entry). Each of the
 * two LRU inserts ct_insert_pair() would do pops a node from the map's free lists and pushes the
 * replaced one back, under the LRU's locks: the largest part of a new flow's cost
 * (docs/benchmarks.md, "Cost per program"). @old is the SERVICE entry found under @f's key;
 * @fwd/@rev the pair ct_new_pair() made. Rewrites only what a new flow changes (flags and times),
 * REPLY entry first as ct_insert_pair() inserts it; the GC, which looks at an entry again right
 * before deleting it, spares one whose creation time changed. Returns 1 when reused, 0 to insert.
 */
static __always_inline int ct_reopen_pair(struct sl_ct_entry *old, const struct sl_ct_entry *fwd,
					  const struct sl_ct_entry *rev, const struct flow *f)
{
	struct sl_ct_entry *r;
	struct sl_ct_key rkey;

	if ((old->flags & SL_CT_F_SNAT) || old->nat_addr != fwd->nat_addr || old->nat_port != fwd->nat_port ||
	    old->svc_id != fwd->svc_id || old->backend_id != fwd->backend_id)
		return 0;
	ct_key_set(&rkey, fwd->nat_addr, fwd->nat_port, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	r = bpf_map_lookup_elem(&sl_ct, &rkey);
	if (!r || (r->flags & SL_CT_F_SNAT) || r->nat_addr != rev->nat_addr || r->nat_port != rev->nat_port ||
	    r->svc_id != rev->svc_id || r->backend_id != rev->backend_id)
		return 0;
	r->flags = rev->flags;
	r->created_ns = rev->created_ns;
	r->last_seen_ns = rev->last_seen_ns;
	old->flags = fwd->flags;
	old->created_ns = fwd->created_ns;
	old->last_seen_ns = fwd->last_seen_ns;
	return 1;
}

/*
 * A handshake SYN of an established flow (SERVICE entry @ct, no source NAT) re-asserts its REPLY
 * entry: should that have been lost (LRU eviction), SYN-ACKs would reach the client untranslated
 * and the connection would wedge.
 */
static __always_inline void ct_reassert_reply(const struct sl_ct_entry *ct, const struct flow *f)
{
	struct sl_ct_key rkey;
	struct sl_ct_entry rev;

	addr_filter_add(SL_ADDR_REPLY_SRC, ct->nat_addr);
	ct_key_set(&rkey, ct->nat_addr, ct->nat_port, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	ct_reply_entry(&rev, ct, f);
	bpf_map_update_elem(&sl_ct, &rkey, &rev, BPF_ANY);
}

/*
 * @f, a new flow to no service, may reuse the tuple of an earlier service connection to the same
 * pod: forget that connection's REPLY entry, which would otherwise rewrite this flow's replies.
 */
static __always_inline void ct_forget_reply(const struct flow *f)
{
	struct sl_ct_key rkey;

	if (f->proto != IPPROTO_UDP && !flow_is_syn(f))
		return;
	/* No REPLY entry can have a source whose filter bit is clear. */
	if (!addr_maybe(SL_ADDR_REPLY_SRC, f->daddr))
		return;
	ct_key_set(&rkey, f->daddr, f->dport, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	bpf_map_delete_elem(&sl_ct, &rkey);
}

/*
 * @f, the first packet (TCP SYN, or UDP) of a flow from outside to no service, may reuse the tuple
 * of an earlier service connection to the same pod: forget that connection's REPLY entry, which
 * would otherwise rewrite this flow's replies, once the connection is over (its SERVICE entry gone,
 * closing, or naming another backend). Unlike ct_forget_reply() it keeps the entry of an open
 * connection: behind XDP, tc also sees the translated first packet of a service flow.
 */
static __always_inline void ct_forget_stale_reply(const struct flow *f)
{
	struct sl_ct_entry *rev, *fwd;
	struct sl_ct_key rkey, fkey;

	if (f->proto != IPPROTO_UDP && !flow_is_syn(f))
		return;
	/* As in ct_forget_reply(): no REPLY entry can have a source whose filter bit is clear. */
	if (!addr_maybe(SL_ADDR_REPLY_SRC, f->daddr))
		return;
	ct_key_set(&rkey, f->daddr, f->dport, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	rev = bpf_map_lookup_elem(&sl_ct, &rkey);
	if (!rev || (rev->flags & SL_CT_F_SNAT))
		return;
	ct_key_set(&fkey, f->saddr, f->sport, rev->nat_addr, rev->nat_port, f->proto, SL_CT_DIR_SERVICE);
	fwd = bpf_map_lookup_elem(&sl_ct, &fkey);
	if (fwd && !(fwd->flags & SL_CT_F_CLOSING) && fwd->nat_addr == f->daddr && fwd->nat_port == f->dport)
		return;
	bpf_map_delete_elem(&sl_ct, &rkey);
}

#endif /* SLUICE_LIB_CONNTRACK_H */
