// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sluice east-west datapath: ClusterIP destination NAT at tc, on the host side
 * of each pod's veth.
 *
 *   sl_from_pod (tc ingress, packets leaving a pod)
 *     conntrack hit -> DNAT to the recorded backend
 *     service hit   -> affinity or Maglev -> record conntrack -> DNAT
 *     no backend    -> ICMP port unreachable back to the pod (kube-proxy's REJECT)
 *   sl_to_pod (tc egress, packets entering a pod)
 *     reply conntrack hit -> SNAT source back to the service address and port
 *
 * Reverse NAT runs where the reply enters the client pod, so it does not
 * matter whether the backend is on this node or another one.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sluice_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_backends SEC(".maps");

/*
 * All frontends' Maglev tables, each a contiguous run of maglev_size slots.
 * Mmapable so the agent writes a whole table with one memcpy; a table is
 * written into free slots first and only then published by the service entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAGLEV_SLOTS / SL_MAGLEV_CHUNK);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_maglev_chunk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_CT);
	__type(key, struct sl_ct_key);
	__type(value, struct sl_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_MAX_AFFINITY);
	__type(key, struct sl_aff_key);
	__type(value, struct sl_aff_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_svc_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_config SEC(".maps");

#define NSEC_PER_SEC		1000000000ULL
#define CT_REFRESH_NS		NSEC_PER_SEC	/* bound conntrack writes per flow */

#define IP_MF			0x2000
#define IP_OFFSET		0x1fff

/* Parsed view of an IPv4 TCP/UDP packet; offsets are from the start of the frame. */
struct flow {
	__be32	saddr;
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	tcp_flags;	/* TCP flag byte (FIN 0x01 SYN 0x02 RST 0x04 ACK 0x10) */
	__u16	l4_off;
	__u32	len;
};

#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_ACK	0x10

/* Conntrack key of @f as seen (@reverse: of its reply, addresses and ports swapped). */
static __always_inline void ct_key(struct sl_ct_key *k, const struct flow *f, __u8 dir, int reverse)
{
	k->saddr = reverse ? f->daddr : f->saddr;
	k->daddr = reverse ? f->saddr : f->daddr;
	k->sport = reverse ? f->dport : f->sport;
	k->dport = reverse ? f->sport : f->dport;
	k->proto = f->proto;
	k->dir = dir;
	k->pad = 0;
}

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&sl_counters, &idx);

	if (c)
		*c += 1;
}

/*
 * Ethernet and IPv4 headers in [data, data_end): fill @f's addresses, protocol and L4 offset.
 * Returns 0 for an unfragmented IPv4 TCP/UDP packet, -1 for anything the datapath leaves alone.
 */
static __always_inline int parse_l3(void *data, void *data_end, struct flow *f)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return -1;
	/* Later fragments carry no ports; conntrack cannot place them. */
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || ihl > 60)
		return -1;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->l4_off = sizeof(*eth) + ihl;
	return 0;
}

/* Fill @f from an skb. Ports and TCP flags are read with a helper: the L4 header may lie
 * beyond the linear part. */
static __always_inline int parse(struct __sk_buff *skb, struct flow *f)
{
	if (parse_l3((void *)(long)skb->data, (void *)(long)skb->data_end, f))
		return -1;
	f->len = skb->len;
	if (f->proto == IPPROTO_TCP) {
		__u8 hdr[14];

		if (bpf_skb_load_bytes(skb, f->l4_off, hdr, sizeof(hdr)))
			return -1;
		__builtin_memcpy(&f->sport, &hdr[0], 2);
		__builtin_memcpy(&f->dport, &hdr[2], 2);
		f->tcp_flags = hdr[13];
	} else {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, f->l4_off, ports, sizeof(ports)))
			return -1;
		f->sport = ports[0];
		f->dport = ports[1];
		f->tcp_flags = 0;
	}
	return 0;
}

/*
 * Rewrite one address and one port (source or destination) and fix the IP and
 * L4 checksums incrementally. BPF_F_PSEUDO_HDR makes the helper also handle
 * CHECKSUM_PARTIAL packets from a local stack correctly.
 */
static __always_inline int rewrite(struct __sk_buff *skb, const struct flow *f, int dst,
				   __be32 old_addr, __be32 new_addr, __be16 old_port, __be16 new_port)
{
	__u32 addr_off = sizeof(struct ethhdr) + (dst ? offsetof(struct iphdr, daddr)
						      : offsetof(struct iphdr, saddr));
	__u32 port_off = f->l4_off + (dst ? offsetof(struct tcphdr, dest)
					  : offsetof(struct tcphdr, source));
	__u32 csum_off, l4flags = 0;

	if (f->proto == IPPROTO_TCP) {
		csum_off = f->l4_off + offsetof(struct tcphdr, check);
	} else {
		csum_off = f->l4_off + offsetof(struct udphdr, check);
		/* UDP checksum 0 means "none" and must stay so. */
		l4flags = BPF_F_MARK_MANGLED_0;
	}

	if (bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
				l4flags | BPF_F_PSEUDO_HDR | sizeof(new_addr)))
		return -1;
	if (old_port != new_port &&
	    bpf_l4_csum_replace(skb, csum_off, old_port, new_port, l4flags | sizeof(new_port)))
		return -1;
	if (bpf_l3_csum_replace(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, check),
				old_addr, new_addr, sizeof(new_addr)))
		return -1;
	if (bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0))
		return -1;
	if (old_port != new_port &&
	    bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/* Bob Jenkins' lookup3 final mix, as the kernel's jhash_3words uses it. */
#define rol32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

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

static __always_inline __u32 maglev_pick(const struct sl_svc_value *svc, const struct flow *f)
{
	__u32 size = svc->maglev_size, slot, chunk;
	struct sl_maglev_chunk *c;

	if (!size)
		return 0;
	slot = svc->maglev_base + hash_flow(f) % size;
	chunk = slot / SL_MAGLEV_CHUNK;
	c = bpf_map_lookup_elem(&sl_maglev, &chunk);
	return c ? c->id[slot & (SL_MAGLEV_CHUNK - 1)] : 0;
}

/*
 * sessionAffinity ClientIP: reuse the client's backend while it is still this
 * frontend's and was chosen less than affinity_timeout ago. Returns 0 to ask
 * for a fresh choice.
 */
static __always_inline __u32 affinity_lookup(const struct sl_svc_value *svc, const struct flow *f,
					     __u64 now)
{
	struct sl_aff_key key = { .svc_id = svc->svc_id, .client = f->saddr };
	struct sl_aff_value *v = bpf_map_lookup_elem(&sl_affinity, &key);
	struct sl_backend *be;

	if (!v)
		return 0;
	if (now - v->last_used_ns > (__u64)svc->affinity_timeout * NSEC_PER_SEC)
		return 0;
	be = bpf_map_lookup_elem(&sl_backends, &v->backend_id);
	if (!be || be->svc_id != svc->svc_id)
		return 0;
	return v->backend_id;
}

static __always_inline void affinity_record(const struct sl_svc_value *svc, const struct flow *f,
					    __u32 backend_id, __u64 now)
{
	struct sl_aff_key key = { .svc_id = svc->svc_id, .client = f->saddr };
	struct sl_aff_value v = { .backend_id = backend_id, .last_used_ns = now };

	bpf_map_update_elem(&sl_affinity, &key, &v, BPF_ANY);
}

/*
 * The backend for a new flow to @svc: the client's affine one while it lasts, else Maglev's.
 * Same choice for east-west and north-south, so a client lands on the same pod either way.
 */
static __always_inline struct sl_backend *pick_backend(const struct sl_svc_value *svc, const struct flow *f,
						       __u64 now, __u32 *backend_id)
{
	struct sl_backend *be;
	__u32 id = 0;

	if (svc->flags & SL_SVC_F_AFFINITY)
		id = affinity_lookup(svc, f, now);
	if (!id)
		id = maglev_pick(svc, f);
	be = id ? bpf_map_lookup_elem(&sl_backends, &id) : NULL;
	/* A table run read just as it was recycled could name another frontend's backend. */
	if (!be || be->svc_id != svc->svc_id) {
		count(SL_CNT_NO_BACKEND_ENTRY);
		return NULL;
	}
	if (svc->flags & SL_SVC_F_AFFINITY)
		affinity_record(svc, f, id, now);
	*backend_id = id;
	return be;
}

/*
 * A new flow's two conntrack entries: @fwd (client -> service) translates to the backend, @rev
 * (backend -> client) back to the service address the client used.
 */
static __always_inline void ct_new_pair(struct sl_ct_entry *fwd, struct sl_ct_entry *rev, const struct flow *f,
					const struct sl_svc_value *svc, __u32 backend_id,
					__be32 be_addr, __be16 be_port, __u64 now)
{
	fwd->nat_addr = be_addr;
	fwd->nat_port = be_port;
	fwd->svc_id = svc->svc_id;
	fwd->backend_id = backend_id;
	fwd->created_ns = now;
	fwd->last_seen_ns = now;
	*rev = *fwd;
	rev->nat_addr = f->daddr;
	rev->nat_port = f->dport;
}

/* Fold a 32-bit one's complement sum to 16 bits. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Answer the pod with ICMP destination unreachable (port unreachable), as
 * kube-proxy's REJECT rule does for a service without endpoints: the client's
 * connect() or send() fails at once instead of timing out. The frame is
 * rewritten in place: new IP + ICMP headers followed by the offending IP
 * header and the first 8 bytes of its payload (RFC 792), then sent back out of
 * the interface it came in on.
 */
/* linux/icmp.h drags in libc headers that do not build for the BPF target. */
#define ICMP_DEST_UNREACH	3
#define ICMP_PORT_UNREACH	3

struct icmp_unreach {
	__u8	type;
	__u8	code;
	__sum16	checksum;
	__be32	unused;
};

struct icmp_reply {
	struct iphdr	ip;
	struct icmp_unreach icmp;
	struct iphdr	orig_ip;
	__u8		orig_l4[8];
};

static __always_inline int reject(struct __sk_buff *skb, const struct flow *f)
{
	struct icmp_reply r = {};
	struct ethhdr eth;
	__u8 mac[ETH_ALEN];
	__u32 sum;

	if (f->l4_off != sizeof(struct ethhdr) + sizeof(struct iphdr))
		goto fail;	/* IP options: not worth the complexity here */
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) ||
	    bpf_skb_load_bytes(skb, sizeof(eth), &r.orig_ip, sizeof(r.orig_ip)) ||
	    bpf_skb_load_bytes(skb, f->l4_off, r.orig_l4, sizeof(r.orig_l4)))
		goto fail;

	r.ip.version = 4;
	r.ip.ihl = 5;
	r.ip.ttl = 64;
	r.ip.protocol = IPPROTO_ICMP;
	r.ip.tot_len = bpf_htons(sizeof(r));
	r.ip.saddr = f->daddr;
	r.ip.daddr = f->saddr;
	r.ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&r.ip, sizeof(r.ip), 0));
	r.icmp.type = ICMP_DEST_UNREACH;
	r.icmp.code = ICMP_PORT_UNREACH;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp,
			    sizeof(r) - offsetof(struct icmp_reply, icmp), 0);
	r.icmp.checksum = csum_fold(sum);

	__builtin_memcpy(mac, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, mac, ETH_ALEN);

	if (bpf_skb_change_tail(skb, sizeof(eth) + sizeof(r), 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) ||
	    bpf_skb_store_bytes(skb, sizeof(eth), &r, sizeof(r), BPF_F_INVALIDATE_HASH))
		goto fail;
	count(SL_CNT_REJECT);
	/* ifindex of the host-side veth: egress there is ingress into the pod. */
	return bpf_redirect(skb->ifindex, 0);
fail:
	count(SL_CNT_REJECT_FAIL);
	return TC_ACT_SHOT;
}

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

SEC("tc")
int sl_from_pod(struct __sk_buff *skb)
{
	struct sl_ct_key fwd = {}, rev = {};
	struct sl_svc_key skey = {};
	struct sl_svc_value *svc;
	struct sl_ct_entry *ct, entry = {};
	struct sl_backend *be;
	struct flow f;
	__u32 backend_id;
	__be32 be_addr;
	__be16 be_port;
	__u64 now;

	if (parse(skb, &f))
		return TC_ACT_OK;
	now = bpf_ktime_get_ns();

	ct_key(&fwd, &f, SL_CT_DIR_SERVICE, 0);

	ct = bpf_map_lookup_elem(&sl_ct, &fwd);
	/* A fresh SYN on a closed flow's tuple (port reuse) is a new connection. */
	if (ct && (ct->flags & SL_CT_F_CLOSING) &&
	    (f.tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
		ct = NULL;
	if (ct) {
		be_addr = ct->nat_addr;
		be_port = ct->nat_port;
		stats_add(ct->svc_id, f.len, 0);
		ct_touch(ct, &f, now);
		/*
		 * A handshake SYN re-asserts the reply entry: should it have been lost (LRU eviction),
		 * SYN-ACKs would reach the client untranslated and the connection would wedge.
		 */
		if ((f.tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
			struct sl_ct_entry rentry = *ct;

			rev.saddr = be_addr;
			rev.daddr = f.saddr;
			rev.sport = be_port;
			rev.dport = f.sport;
			rev.proto = f.proto;
			rev.dir = SL_CT_DIR_REPLY;
			rentry.nat_addr = f.daddr;
			rentry.nat_port = f.dport;
			bpf_map_update_elem(&sl_ct, &rev, &rentry, BPF_ANY);
		}
		if (rewrite(skb, &f, 1, f.daddr, be_addr, f.dport, be_port))
			return TC_ACT_SHOT;
		return TC_ACT_OK;
	}

	__builtin_memcpy(skey.vip, &f.daddr, 4);
	skey.port = bpf_ntohs(f.dport);
	skey.proto = f.proto;
	skey.scope = SL_SCOPE_CLUSTER;
	svc = bpf_map_lookup_elem(&sl_services, &skey);
	if (!svc) {
		/*
		 * Not a service: leave it alone. But a new flow straight to a pod may reuse the tuple
		 * of an earlier service connection to that pod; its reply entry must not rewrite this
		 * flow's replies to the service address.
		 */
		if (f.proto == IPPROTO_UDP || (f.tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
			ct_key(&rev, &f, SL_CT_DIR_REPLY, 1);
			bpf_map_delete_elem(&sl_ct, &rev);
		}
		return TC_ACT_OK;
	}

	if (!svc->count) {
		struct sl_svc_stats *s = bpf_map_lookup_elem(&sl_svc_stats, &svc->svc_id);

		if (s)
			s->rejects++;
		return reject(skb, &f);
	}

	be = pick_backend(svc, &f, now, &backend_id);
	if (!be)
		return TC_ACT_SHOT;

	__builtin_memcpy(&be_addr, be->ip, 4);
	be_port = bpf_htons(be->port);

	/* Reply entry first: a reply can never find the forward entry without it. */
	rev.saddr = be_addr;
	rev.daddr = f.saddr;
	rev.sport = be_port;
	rev.dport = f.sport;
	rev.proto = f.proto;
	rev.dir = SL_CT_DIR_REPLY;
	{
		struct sl_ct_entry rentry;

		ct_new_pair(&entry, &rentry, &f, svc, backend_id, be_addr, be_port, now);
		if (bpf_map_update_elem(&sl_ct, &rev, &rentry, BPF_ANY) ||
		    bpf_map_update_elem(&sl_ct, &fwd, &entry, BPF_ANY))
			count(SL_CNT_CT_CREATE_FAIL);
	}
	stats_add(svc->svc_id, f.len, 1);

	if (rewrite(skb, &f, 1, f.daddr, be_addr, f.dport, be_port))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/*
 * Replies of translated flows get their service address back as source: where a reply enters
 * the client pod (east-west), or leaves by the external interface to an outside client (north-
 * south with a backend on this node). Source-NATed north-south flows are undone by XDP instead.
 */
static __always_inline int reverse_nat(struct __sk_buff *skb)
{
	struct sl_ct_key key = {};
	struct sl_ct_entry *ct;
	struct flow f;
	__be32 vip;
	__be16 vport;

	if (parse(skb, &f))
		return TC_ACT_OK;
	ct_key(&key, &f, SL_CT_DIR_REPLY, 0);
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (!ct || (ct->flags & SL_CT_F_SNAT))
		return TC_ACT_OK;
	vip = ct->nat_addr;
	vport = ct->nat_port;
	ct_touch(ct, &f, bpf_ktime_get_ns());
	if (rewrite(skb, &f, 0, f.saddr, vip, f.sport, vport))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int sl_to_pod(struct __sk_buff *skb)
{
	return reverse_nat(skb);
}

/*
 * North-south: NodePort, ExternalIP and LoadBalancer addresses on the node's external interface.
 *
 *   client ──▶ eth0 (XDP sl_ext_xdp, or tc sl_ext_tc)
 *     backend on this node (or externalTrafficPolicy Local): DNAT, hand to the kernel, which
 *       routes to the pod; the reply leaves through eth0, where tc egress (sl_ext_egress)
 *       puts the service address back as its source. The client's address is preserved.
 *     backend on another node: DNAT and SNAT to this node, sent straight back out of eth0;
 *       the reply comes back to this node, which undoes both and returns it to the client.
 *
 * The decision is shared by the XDP and tc variants; only how bytes are rewritten differs.
 */

enum ext_verdict {
	EXT_NONE = 0,	/* not ours: leave untouched */
	EXT_PASS,	/* rewritten: the kernel delivers it (to a local pod) */
	EXT_OUT,	/* rewritten: send out again (another node, or back to the client) */
	EXT_DROP,
};

struct ext_nat {
	__be32	saddr, daddr;
	__be16	sport, dport;
};

#define SNAT_PORT_MIN	32768
#define SNAT_PORT_SPAN	28232	/* 32768..60999, Linux's default ephemeral range */
#define SNAT_TRIES	4

static __always_inline int ext_decide(struct flow *f, struct ext_nat *n)
{
	struct sl_ct_key key = {}, rkey = {};
	struct sl_ct_entry *ct, entry = {}, rentry = {};
	struct sl_svc_key skey = {};
	struct sl_svc_value *svc;
	struct sl_backend *be;
	struct sl_config *cfg;
	__u32 backend_id, zero = 0;
	__be32 be_addr;
	__be16 be_port;
	__u64 now = bpf_ktime_get_ns();
	int i;

	n->saddr = f->saddr;
	n->daddr = f->daddr;
	n->sport = f->sport;
	n->dport = f->dport;

	/* A reply from another node's backend to a flow this node source-NATed. */
	ct_key(&key, f, SL_CT_DIR_REPLY, 0);
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (ct && (ct->flags & SL_CT_F_SNAT)) {
		ct_touch(ct, f, now);
		n->saddr = ct->nat_addr;
		n->sport = ct->nat_port;
		n->daddr = ct->rev_addr;
		n->dport = ct->rev_port;
		return EXT_OUT;
	}

	/* A flow already balanced. */
	key.dir = SL_CT_DIR_SERVICE;
	ct = bpf_map_lookup_elem(&sl_ct, &key);
	if (ct && (ct->flags & SL_CT_F_CLOSING) && (f->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
		ct = NULL;
	if (ct) {
		ct_touch(ct, f, now);
		stats_add(ct->svc_id, f->len, 0);
		n->daddr = ct->nat_addr;
		n->dport = ct->nat_port;
		if (!(ct->flags & SL_CT_F_SNAT))
			return EXT_PASS;
		n->saddr = ct->rev_addr;
		n->sport = ct->rev_port;
		return EXT_OUT;
	}

	__builtin_memcpy(skey.vip, &f->daddr, 4);
	skey.port = bpf_ntohs(f->dport);
	skey.proto = f->proto;
	skey.scope = SL_SCOPE_EXTERNAL;
	svc = bpf_map_lookup_elem(&sl_services, &skey);
	if (!svc)
		return EXT_NONE;
	if (!svc->count) {
		if (svc->flags & SL_SVC_F_LOCAL) {
			/* As kube-proxy: a Local service without a local endpoint drops. */
			count(SL_CNT_EXT_NO_LOCAL);
			return EXT_DROP;
		}
		/* No endpoint anywhere: the kernel refuses (RST / port unreachable) for a node address. */
		return EXT_NONE;
	}
	be = pick_backend(svc, f, now, &backend_id);
	if (!be)
		return EXT_DROP;
	__builtin_memcpy(&be_addr, be->ip, 4);
	be_port = bpf_htons(be->port);

	ct_new_pair(&entry, &rentry, f, svc, backend_id, be_addr, be_port, now);
	rkey.saddr = be_addr;
	rkey.sport = be_port;
	rkey.proto = f->proto;
	rkey.dir = SL_CT_DIR_REPLY;
	n->daddr = be_addr;
	n->dport = be_port;

	if ((be->flags & SL_BE_F_LOCAL) || (svc->flags & SL_SVC_F_LOCAL)) {
		rkey.daddr = f->saddr;
		rkey.dport = f->sport;
		if (bpf_map_update_elem(&sl_ct, &rkey, &rentry, BPF_ANY) ||
		    bpf_map_update_elem(&sl_ct, &key, &entry, BPF_ANY))
			count(SL_CNT_CT_CREATE_FAIL);
		stats_add(svc->svc_id, f->len, 1);
		return EXT_PASS;
	}

	/* Another node's backend: replies must come back here, so the source becomes this node. */
	cfg = bpf_map_lookup_elem(&sl_config, &zero);
	if (!cfg || !cfg->node_ip)
		return EXT_DROP;
	rkey.daddr = cfg->node_ip;
	rentry.flags = SL_CT_F_SNAT;
	rentry.rev_addr = f->saddr;
	rentry.rev_port = f->sport;
	/*
	 * Keep the client's port when it is free towards that backend, else probe a few others. A
	 * port still held by a closed flow (FIN/RST seen) is taken over, as TCP reuses TIME_WAIT:
	 * under a stream of short connections, closed flows would otherwise hold every candidate.
	 */
	for (i = 0; i < SNAT_TRIES; i++) {
		__u16 port = i ? SNAT_PORT_MIN + (hash_flow(f) + i * 7919) % SNAT_PORT_SPAN : bpf_ntohs(f->sport);
		struct sl_ct_entry *held;

		rkey.dport = bpf_htons(port);
		if (!bpf_map_update_elem(&sl_ct, &rkey, &rentry, BPF_NOEXIST))
			break;
		held = bpf_map_lookup_elem(&sl_ct, &rkey);
		if (held && (held->flags & SL_CT_F_CLOSING) &&
		    !bpf_map_update_elem(&sl_ct, &rkey, &rentry, BPF_EXIST))
			break;
	}
	if (i == SNAT_TRIES) {
		count(SL_CNT_EXT_SNAT_FAIL);
		return EXT_DROP;
	}
	entry.flags = SL_CT_F_SNAT;
	entry.rev_addr = cfg->node_ip;
	entry.rev_port = rkey.dport;
	if (bpf_map_update_elem(&sl_ct, &key, &entry, BPF_ANY))
		count(SL_CNT_CT_CREATE_FAIL);
	stats_add(svc->svc_id, f->len, 1);
	n->saddr = cfg->node_ip;
	n->sport = rkey.dport;
	return EXT_OUT;
}

/* RFC 1624 incremental update of a checksum for a 32-bit or 16-bit field change. */
static __always_inline __u16 csum_update32(__u16 csum, __u32 from, __u32 to)
{
	__u32 s = (__u16)~csum;

	s += (__u16)~from + (__u16)~(from >> 16);
	s += (__u16)to + (__u16)(to >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

static __always_inline __u16 csum_update16(__u16 csum, __u16 from, __u16 to)
{
	__u32 s = (__u16)~csum;

	s += (__u16)~from + to;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* XDP frames are linear and ours to write: rewrite in place with incremental checksums. */
static __always_inline int xdp_rewrite(struct xdp_md *ctx, const struct flow *f, const struct ext_nat *n)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__u16 *l4csum = NULL, csum;
	__be16 *ports;
	__u32 l4_off = f->l4_off;

	if ((void *)(ip + 1) > data_end)
		return -1;
	/* The verifier needs a constant bound on the variable L4 offset. */
	if (l4_off > sizeof(struct ethhdr) + 60)
		return -1;
	ports = data + l4_off;
	if ((void *)(ports + 2) > data_end)
		return -1;
	if (f->proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)ports;

		if ((void *)(th + 1) > data_end)
			return -1;
		l4csum = &th->check;
	} else {
		struct udphdr *uh = (void *)ports;

		if ((void *)(uh + 1) > data_end)
			return -1;
		if (uh->check)
			l4csum = &uh->check;
	}

	ip->check = csum_update32(ip->check, ip->saddr, n->saddr);
	ip->check = csum_update32(ip->check, ip->daddr, n->daddr);
	if (l4csum) {
		csum = *l4csum;
		csum = csum_update32(csum, ip->saddr, n->saddr);
		csum = csum_update32(csum, ip->daddr, n->daddr);
		csum = csum_update16(csum, ports[0], n->sport);
		csum = csum_update16(csum, ports[1], n->dport);
		*l4csum = csum ? csum : (f->proto == IPPROTO_UDP ? 0xffff : 0);
	}
	ip->saddr = n->saddr;
	ip->daddr = n->daddr;
	ports[0] = n->sport;
	ports[1] = n->dport;
	return 0;
}

/* Fill @f from an XDP frame, which is linear: ports and flags are read in place. */
static __always_inline int xdp_parse(struct xdp_md *ctx, struct flow *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 off;
	__u8 *l4;

	if (parse_l3(data, data_end, f))
		return -1;
	off = f->l4_off;
	if (off > sizeof(struct ethhdr) + 60)	/* for the verifier: parse_l3 bounds it */
		return -1;
	l4 = data + off;
	/* Ports for both; TCP's flags byte is the 14th. A short UDP datagram has only 8 bytes. */
	if ((void *)(l4 + 4) > data_end)
		return -1;
	f->tcp_flags = 0;
	if (f->proto == IPPROTO_TCP) {
		if ((void *)(l4 + 14) > data_end)
			return -1;
		f->tcp_flags = l4[13];
	}
	f->len = data_end - data;
	__builtin_memcpy(&f->sport, l4, 2);
	__builtin_memcpy(&f->dport, l4 + 2, 2);
	return 0;
}

#ifndef AF_INET
#define AF_INET 2
#endif

/*
 * Route a translated packet: where it leaves and the next hop's MAC. Returns the
 * BPF_FIB_LKUP_RET_* code; NO_NEIGH means the kernel must resolve the neighbour first.
 */
static __always_inline int fib_next_hop(void *ctx, __u32 ifindex, const struct flow *f, const struct ext_nat *n,
					struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->l4_protocol = f->proto;
	fib->sport = n->sport;
	fib->dport = n->dport;
	fib->ipv4_src = n->saddr;
	fib->ipv4_dst = n->daddr;
	fib->ifindex = ifindex;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

SEC("xdp")
int sl_ext_xdp(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib;
	struct ext_nat n;
	struct flow f;
	struct ethhdr *eth;
	int v, rc = BPF_FIB_LKUP_RET_SUCCESS;

	if (xdp_parse(ctx, &f))
		return XDP_PASS;
	v = ext_decide(&f, &n);
	if (v == EXT_NONE)
		return XDP_PASS;
	if (v == EXT_DROP)
		return XDP_DROP;
	if (v == EXT_OUT) {
		rc = fib_next_hop(ctx, ctx->ingress_ifindex, &f, &n, &fib);
		/*
		 * XDP cannot ask for ARP. Leave the frame as it came: sl_ext_tc at tc ingress finds the
		 * conntrack entry made above and sends it with bpf_redirect_neigh(), which can.
		 */
		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
			return XDP_PASS;
		if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			count(SL_CNT_EXT_FIB_FAIL);
			return XDP_DROP;
		}
	}
	if (xdp_rewrite(ctx, &f, &n))
		return XDP_DROP;
	if (v == EXT_PASS)
		return XDP_PASS;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return fib.ifindex == ctx->ingress_ifindex ? XDP_TX : bpf_redirect(fib.ifindex, 0);
}

/*
 * The same north-south path at tc ingress: the whole path for interfaces whose driver cannot run
 * XDP, and, behind XDP, the frames that wait for a neighbour to be resolved.
 */
SEC("tc")
int sl_ext_tc(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib;
	struct ext_nat n;
	struct ethhdr eth;
	struct flow f;
	int v, rc;

	if (parse(skb, &f))
		return TC_ACT_OK;
	v = ext_decide(&f, &n);
	if (v == EXT_NONE)
		return TC_ACT_OK;
	if (v == EXT_DROP)
		return TC_ACT_SHOT;
	if (rewrite(skb, &f, 0, f.saddr, n.saddr, f.sport, n.sport) ||
	    rewrite(skb, &f, 1, f.daddr, n.daddr, f.dport, n.dport))
		return TC_ACT_SHOT;
	if (v == EXT_PASS)
		return TC_ACT_OK;
	rc = fib_next_hop(skb, skb->ifindex, &f, &n, &fib);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		count(SL_CNT_EXT_FIB_FAIL);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

/* tc egress on the external interface: see reverse_nat(). */
SEC("tc")
int sl_ext_egress(struct __sk_buff *skb)
{
	return reverse_nat(skb);
}
