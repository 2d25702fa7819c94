/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 conntrack (sl_ct6), entry for entry as conntrack.h's sl_ct: a SERVICE entry keyed as the
 * client sends names the backend, a REPLY entry keyed as the backend answers names the service
 * address to restore. Written by the datapath; only the agent expires them (same clock, sl_now()).
 */
#ifndef SLUICE_LIB_CT6_H
#define SLUICE_LIB_CT6_H

#include "conntrack.h"
#include "parse6.h"

/* The one place an sl_ct6 key is built: a packet from saddr:sport to daddr:dport. */
static __always_inline void ct6_key_set(struct sl_ct6_key *k, const __be32 *saddr, __be16 sport,
					const __be32 *daddr, __be16 dport, __u8 proto, enum sl_ct_dir dir)
{
	ip6_copy(k->saddr, saddr);
	ip6_copy(k->daddr, daddr);
	k->sport = sport;
	k->dport = dport;
	k->proto = proto;
	k->dir = dir;
	k->pad = 0;
}

/* Key of @f as it travels, looked up in direction @dir. */
static __always_inline void ct6_key_of(struct sl_ct6_key *k, const struct flow6 *f, enum sl_ct_dir dir)
{
	ct6_key_set(k, f->saddr, f->sport, f->daddr, f->dport, f->proto, dir);
}

/* ct_closed_for() for IPv6: a fresh SYN on a closed flow's tuple is a new flow. */
static __always_inline int ct6_closed_for(const struct sl_ct6_entry *ct, const struct flow6 *f)
{
	return (ct->flags & SL_CT_F_CLOSING) && flow6_is_syn(f);
}

/* Mark @ct closing on FIN/RST and refresh its timestamp, at most once a second otherwise. */
static __always_inline void ct6_touch(struct sl_ct6_entry *ct, const struct flow6 *f, __u64 now)
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
 * gives the flow the established timeout (as ct_mark_replied()). Once per flow.
 */
static __always_inline void ct6_mark_replied(const struct sl_ct6_key *k, struct sl_ct6_entry *ct)
{
	struct sl_ct6_entry *fwd;
	struct sl_ct6_key fkey;

	if (ct->flags & SL_CT_F_REPLIED)
		return;
	ct->flags |= SL_CT_F_REPLIED;
	if (ct->flags & SL_CT_F_SNAT)
		ct6_key_set(&fkey, ct->rev_addr, ct->rev_port, ct->nat_addr, ct->nat_port, k->proto, SL_CT_DIR_SERVICE);
	else
		ct6_key_set(&fkey, k->daddr, k->dport, ct->nat_addr, ct->nat_port, k->proto, SL_CT_DIR_SERVICE);
	fwd = bpf_map_lookup_elem(&sl_ct6, &fkey);
	if (fwd)
		fwd->flags |= SL_CT_F_REPLIED;
}

/*
 * A new flow's SERVICE entry @e of @f to backend @be_addr:@be_port (the REPLY entry is derived from
 * it by ct6_as_reply(): one entry on the stack, not two, leaves room in the 512-byte frame).
 */
static __always_inline void ct6_new_entry(struct sl_ct6_entry *e, __u32 svc_id, __u32 backend_id,
					  const __be32 *be_addr, __be16 be_port, __u64 now)
{
	/* The backend becomes a reply source in the address filter first: REPLY keys name it. */
	addr_filter_add6(SL_ADDR_REPLY_SRC, be_addr);
	__builtin_memset(e, 0, sizeof(*e));
	ip6_copy(e->nat_addr, be_addr);
	e->nat_port = be_port;
	e->svc_id = svc_id;
	e->backend_id = backend_id;
	e->created_ns = now;
	e->last_seen_ns = now;
}

/* Turn SERVICE entry @e of @f into its REPLY entry: translating back to where @f was sent. */
static __always_inline void ct6_as_reply(struct sl_ct6_entry *e, const struct flow6 *f)
{
	ip6_copy(e->nat_addr, f->daddr);
	e->nat_port = f->dport;
}

/*
 * Record both entries of a flow whose reply comes back unchanged (no source NAT), from SERVICE
 * entry @e (clobbered). Reply entry first: a reply can never find the forward entry without it.
 * A failed insert is counted, and the flow is balanced statelessly.
 */
static __always_inline void ct6_insert_pair(const struct sl_ct6_key *fkey, struct sl_ct6_entry *e,
					    const struct flow6 *f)
{
	__be32 be_addr[4];
	__be16 be_port = e->nat_port;
	struct sl_ct6_key rkey;
	int err;

	ip6_copy(be_addr, e->nat_addr);
	ct6_key_set(&rkey, be_addr, be_port, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	ct6_as_reply(e, f);
	err = bpf_map_update_elem(&sl_ct6, &rkey, e, BPF_ANY);
	ip6_copy(e->nat_addr, be_addr);
	e->nat_port = be_port;
	if (err || bpf_map_update_elem(&sl_ct6, fkey, e, BPF_ANY))
		count(SL_CNT_CT_CREATE_FAIL);
}

/*
 * ct_reopen_pair() for IPv6: new flow @f on a closed flow's tuple, to the same backend (SERVICE
 * entry @e, as ct6_new_entry() made it): reuse closed SERVICE entry @old and its REPLY entry in
 * place. Returns 1 when reused, 0 to insert.
 */
static __always_inline int ct6_reopen_pair(struct sl_ct6_entry *old, const struct sl_ct6_entry *e,
					   const struct flow6 *f)
{
	struct sl_ct6_entry *r;
	struct sl_ct6_key rkey;

	if ((old->flags & SL_CT_F_SNAT) || !ip6_eq(old->nat_addr, e->nat_addr) || old->nat_port != e->nat_port ||
	    old->svc_id != e->svc_id || old->backend_id != e->backend_id)
		return 0;
	ct6_key_set(&rkey, e->nat_addr, e->nat_port, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	r = bpf_map_lookup_elem(&sl_ct6, &rkey);
	if (!r || (r->flags & SL_CT_F_SNAT) || !ip6_eq(r->nat_addr, f->daddr) || r->nat_port != f->dport ||
	    r->svc_id != e->svc_id || r->backend_id != e->backend_id)
		return 0;
	r->flags = e->flags;
	r->created_ns = e->created_ns;
	r->last_seen_ns = e->last_seen_ns;
	old->flags = e->flags;
	old->created_ns = e->created_ns;
	old->last_seen_ns = e->last_seen_ns;
	return 1;
}

/* A handshake SYN of an established flow (SERVICE entry @ct, no source NAT) re-asserts its REPLY entry. */
static __always_inline void ct6_reassert_reply(const struct sl_ct6_entry *ct, const struct flow6 *f)
{
	struct sl_ct6_key rkey;
	struct sl_ct6_entry rev = *ct;

	addr_filter_add6(SL_ADDR_REPLY_SRC, ct->nat_addr);
	ct6_key_set(&rkey, ct->nat_addr, ct->nat_port, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	ct6_as_reply(&rev, f);
	bpf_map_update_elem(&sl_ct6, &rkey, &rev, BPF_ANY);
}

/*
 * @f, a new flow to no service, may reuse the tuple of an earlier service connection to the same
 * pod: forget that connection's REPLY entry (as ct_forget_reply()).
 */
static __always_inline void ct6_forget_reply(const struct flow6 *f)
{
	struct sl_ct6_key rkey;

	if (f->proto != IPPROTO_UDP && !flow6_is_syn(f))
		return;
	/* No REPLY entry can have a source whose filter bit is clear. */
	if (!addr_maybe6(SL_ADDR_REPLY_SRC, f->daddr))
		return;
	ct6_key_set(&rkey, f->daddr, f->dport, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	bpf_map_delete_elem(&sl_ct6, &rkey);
}

/*
 * ct_forget_stale_reply() for IPv6: @f, the first packet (TCP SYN, or UDP) of a flow from outside
 * to no service, may reuse the tuple of an earlier service connection to the same pod; its REPLY
 * entry goes once that connection is over (SERVICE entry gone, closing, or naming another
 * backend). An open connection's is kept: behind XDP, tc also sees its translated first packet.
 */
static __always_inline void ct6_forget_stale_reply(const struct flow6 *f)
{
	struct sl_ct6_entry *rev, *fwd;
	struct sl_ct6_key rkey, fkey;

	if (f->proto != IPPROTO_UDP && !flow6_is_syn(f))
		return;
	/* As in ct6_forget_reply(): no REPLY entry can have a source whose filter bit is clear. */
	if (!addr_maybe6(SL_ADDR_REPLY_SRC, f->daddr))
		return;
	ct6_key_set(&rkey, f->daddr, f->dport, f->saddr, f->sport, f->proto, SL_CT_DIR_REPLY);
	rev = bpf_map_lookup_elem(&sl_ct6, &rkey);
	if (!rev || (rev->flags & SL_CT_F_SNAT))
		return;
	ct6_key_set(&fkey, f->saddr, f->sport, rev->nat_addr, rev->nat_port, f->proto, SL_CT_DIR_SERVICE);
	fwd = bpf_map_lookup_elem(&sl_ct6, &fkey);
	if (fwd && !(fwd->flags & SL_CT_F_CLOSING) && ip6_eq(fwd->nat_addr, f->daddr) && fwd->nat_port == f->dport)
		return;
	bpf_map_delete_elem(&sl_ct6, &rkey);
}

#endif /* SLUICE_LIB_CT6_H */
