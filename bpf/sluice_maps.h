/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sluice map layouts and constants: the one source of truth. agent/bpf/layout.ts
 * mirrors these structs and enums, and test/integration/layout.test.ts checks the
 * two against the BTF that clang emits, so a change here without a change there
 * fails CI.
 *
 * Byte order: the maps people read (services, backends) hold addresses as
 * byte arrays and ports in host order so `bpftool map dump` is readable as is;
 * the hot-path maps (conntrack, affinity) hold packet fields exactly as they
 * appear on the wire, so the datapath never converts them.
 */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

#include <linux/types.h>

/*
 * Constants are enums, not #defines, so that they reach the BTF clang emits (bpf/lib/maps.h
 * anchors them) and the layout test can hold agent/bpf/layout.ts to them.
 */

/*
 * The layout of the maps below, recorded in sl_meta. Raise it with any change a pinned map would
 * not survive (a struct, a key, a map's type), and give agent/bpf/migrate.ts the step from the
 * previous one: an agent that finds older pins converts them in place instead of dropping flows.
 * Layout 1 had no sl_meta. Layout 2 held 32-bit backend ids in the Maglev slots; layout 3 holds
 * 16-bit indexes into a per-frontend list of ids (sl_maglev_chunk).
 */
enum sl_layout {
	SL_LAYOUT_VERSION	= 3,
};

struct sl_meta {
	__u32	layout_version;	/* SL_LAYOUT_VERSION of whoever created the pins, or migrated them last */
	__u32	pad;
};

/*
 * Map sizes: defaults the agent may change before load (--max-*), and two fixed ones. The defaults
 * hold 10,000 services of 10 endpoints (docs/benchmarks.md, "BPF maps"): a Maglev run of 1,030
 * slots per service (1,009 table slots, 100 per backend, one to round to a word, 2 per backend id)
 * plus 5% for tables being rebuilt, 20% spare backends; conntrack as kube-proxy's minimum
 * nf_conntrack_max. A pinned map keeps the size it was created with.
 */
enum sl_size {
	SL_MAX_SERVICES		= 16384,
	SL_MAX_BACKENDS		= 122880,
	SL_MAGLEV_SLOTS		= 10816000,	/* u16 slots; a multiple of SL_MAGLEV_CHUNK */
	/* Array map values are padded to 8 bytes; 32 slots per element keeps a slot at 2 bytes (fixed). */
	SL_MAGLEV_CHUNK		= 32,
	SL_MAX_CT		= 131072,
	SL_MAX_AFFINITY		= 16384,
	SL_NAME_LEN		= 44,	/* sl_svc_value.name, NUL included (fixed) */
};

enum sl_scope {
	SL_SCOPE_CLUSTER	= 0,	/* ClusterIP, reached from pods (tc) */
	SL_SCOPE_EXTERNAL	= 1,	/* NodePort/ExternalIP/LB, on the external interface */
	/*
	 * An external address of an externalTrafficPolicy Local service as this node's pods reach
	 * it: kube-proxy short-circuits them to the cluster-wide endpoints. Looked up by the pod path
	 * only, before SL_SCOPE_EXTERNAL, which pods use for every other external address.
	 */
	SL_SCOPE_SHORT		= 2,
};

struct sl_svc_key {
	__u8	vip[4];
	__u16	port;		/* host order */
	__u8	proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8	scope;		/* SL_SCOPE_* */
};

enum sl_svc_flag {
	SL_SVC_F_AFFINITY	= 1 << 0,	/* sessionAffinity: ClientIP */
	SL_SVC_F_LOCAL		= 1 << 1,	/* externalTrafficPolicy: Local (backends are this node's) */
	SL_SVC_F_DROP		= 1 << 2,	/* no backends: drop new flows (else reject them) */
	SL_SVC_F_SRC_RANGES	= 1 << 3,	/* clients must be in sl_src_ranges (loadBalancerSourceRanges) */
};

struct sl_svc_value {
	__u32	svc_id;		/* per-frontend id: stats index, affinity key */
	__u32	maglev_base;	/* first 4-byte word of this frontend's run in sl_maglev (sl_maglev_chunk) */
	__u32	maglev_size;	/* M (prime), 0 when count is 0 */
	__u16	count;		/* backends taking new connections (N, the run's ids); 0 rejects */
	__u16	flags;		/* SL_SVC_F_* */
	__u32	affinity_timeout; /* seconds */
	char	name[SL_NAME_LEN]; /* "namespace/name:port", for people */
};

enum sl_be_flag {
	SL_BE_F_TERMINATING	= 1 << 0,
	SL_BE_F_LOCAL		= 1 << 1,	/* runs on this node */
};

/* Backends belong to exactly one frontend and their ids are never reused, so
 * an id found in conntrack or affinity either still means the same backend of
 * the same frontend or is gone from this map. */
/*
 * An element of sl_maglev: slot i of the whole map is chunk i / 32, slot i % 32. A frontend's run
 * starts at 4-byte word maglev_base (u16 slot 2 * maglev_base): its M table slots, each the index
 * (0..N-1) of a backend in the frontend's list, then, from the next word on, that list: N backend
 * ids, each a __u32 in two slots (host order, at an even slot, so never split across chunks).
 * Run length: (M + 1) / 2 + N words. Since layout 3; layout 2 held a __u32 backend id per slot.
 */
struct sl_maglev_chunk {
	__u16	slot[SL_MAGLEV_CHUNK];
};

struct sl_backend {
	__u8	ip[4];
	__u16	port;		/* host order */
	__u8	proto;
	__u8	flags;		/* SL_BE_F_* */
	__u32	svc_id;		/* owning frontend */
};

enum sl_ct_dir {
	SL_CT_DIR_SERVICE	= 0,	/* client -> service address: key as sent by the client */
	SL_CT_DIR_REPLY		= 1,	/* backend -> client: key as sent by the backend */
};

struct sl_ct_key {
	__be32	saddr;
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	dir;		/* SL_CT_DIR_* */
	__u16	pad;
};

enum sl_ct_flag {
	SL_CT_F_CLOSING		= 1 << 0,	/* FIN or RST seen */
	SL_CT_F_SNAT		= 1 << 1,	/* source NATed to this node (north-south under eTP Cluster, hairpin) */
	SL_CT_F_REPLIED		= 1 << 2,	/* the backend answered: the GC's short SYN timeout is over */
};

struct sl_ct_entry {
	__be32	nat_addr;	/* SERVICE: backend address; REPLY: service address */
	__be16	nat_port;	/* SERVICE: backend port; REPLY: service port */
	__u16	flags;		/* SL_CT_F_* */
	/*
	 * With SL_CT_F_SNAT: SERVICE: the node address and port the client's source became;
	 * REPLY: the client's address and port, the reply's new destination.
	 */
	__be32	rev_addr;
	__be16	rev_port;
	__u16	pad;
	__u32	svc_id;
	__u32	backend_id;
	__u64	created_ns;	/* CLOCK_MONOTONIC */
	__u64	last_seen_ns;	/* refreshed at most once a second */
};

enum sl_aff_client {
	SL_AFF_CLIENT_ADDR4	= 0,	/* client[0..3]: the client's IPv4 address, as on the wire */
	SL_AFF_CLIENT_NETNS	= 1,	/* client[0..7]: a network namespace cookie (socket-level, no address yet) */
	SL_AFF_CLIENT_ADDR6	= 2,	/* client[0..15]: the client's IPv6 address (/128), as on the wire */
};

/* Since layout 2 the client is named by kind in 16 bytes, room for an IPv6 address too. */
struct sl_aff_key {
	__u32	svc_id;
	__u8	kind;		/* SL_AFF_CLIENT_* */
	__u8	pad[3];
	__u8	client[16];
};

struct sl_aff_value {
	__u32	backend_id;
	__u32	pad;
	__u64	last_used_ns;	/* refreshed on every new connection */
};

struct sl_svc_stats {
	__u64	conns;		/* new connections balanced */
	__u64	packets;	/* client -> service packets */
	__u64	bytes;
	__u64	rejects;	/* packets answered with ICMP unreachable (no backend) */
};

/* sl_config[0]: what the datapath must know about its node. */
struct sl_config {
	__be32	node_ip;	/* source address for north-south flows sent to other nodes */
	/*
	 * Source ports of masqueraded flows (host order), chosen by the agent outside the node's
	 * ephemeral range (agent/masquerade-ports.ts); 0 (pins of an older agent) takes
	 * 32768..60999. Was a zero pad: the layout is unchanged.
	 */
	__u16	snat_port_min;
	__u16	snat_port_max;
};

/*
 * Datapath events (sl_events, a ring buffer read by `sluice monitor`): why a connection failed,
 * and, while someone asks for them (sl_event_config), sampled new flows and affinity hits.
 */
enum sl_event_type {
	SL_EV_DROP		= 1,	/* packet dropped; reason says why */
	SL_EV_REJECT		= 2,	/* connection refused (ICMP unreachable or the kernel's RST) */
	SL_EV_FLOW		= 3,	/* new flow balanced to backend_id (sampled) */
	SL_EV_AFFINITY		= 4,	/* new flow sent to its client's affine backend_id (sampled) */
};

/*
 * Why (sl_event.reason). To add one: a value before SL_EV_REASON_MAX, its name in
 * agent/bpf/layout.ts EVENT_REASONS (the layout test holds the order), and event_emit() where the
 * datapath decides it; `sluice monitor` prints it from then on.
 */
enum sl_event_reason {
	SL_EV_REASON_NONE = 0,		/* flows and affinity hits */
	SL_EV_REASON_NO_ENDPOINTS,	/* frontend without endpoints: rejected, as kube-proxy's REJECT */
	SL_EV_REASON_NO_LOCAL_ENDPOINT,	/* externalTrafficPolicy Local, none on this node: dropped */
	SL_EV_REASON_NO_BACKEND_ENTRY,	/* Maglev slot named no backend of this frontend: dropped */
	SL_EV_REASON_SNAT_FAIL,		/* no node address or free source port to masquerade to: dropped */
	SL_EV_REASON_NO_USABLE_ENDPOINT, /* endpoints exist, none for this traffic (internalTrafficPolicy Local): dropped */
	SL_EV_REASON_SOURCE_RANGE,	/* client outside loadBalancerSourceRanges: dropped */
	SL_EV_REASON_FRAG_NO_FIRST,	/* an IP fragment before its datagram's first: no ports known, dropped */
	SL_EV_REASON_MAX,
};

struct sl_event {
	__u64	ts_ns;		/* CLOCK_MONOTONIC */
	__be32	saddr;		/* the packet as it arrived */
	__be32	daddr;
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	type;		/* SL_EV_* */
	__u8	reason;		/* SL_EV_REASON_* */
	__u8	pad;
	__u32	svc_id;		/* the frontend (sl_services names it, and its scope) */
	__u32	backend_id;	/* FLOW, AFFINITY: the backend chosen; else 0 */
};

enum sl_event_config_flag {
	SL_EVC_F_FLOW		= 1 << 0,	/* emit SL_EV_FLOW */
	SL_EVC_F_AFFINITY	= 1 << 1,	/* emit SL_EV_AFFINITY */
};

/* sl_event_config[0], written by `sluice monitor`; all zero (the default): drops and rejects only. */
struct sl_event_config {
	__u32	flags;		/* SL_EVC_F_* */
	__u32	sample;		/* emit one in `sample` flows/affinity hits (0 or 1: every one) */
};

/* Ring buffer bytes (a power of two, page multiple): ~20k events before a slow reader loses some. */
enum sl_event_size {
	SL_EVENTS_BYTES		= 1 << 20,
};

/* Node-wide counters, index into sl_counters; agent/bpf/layout.ts names them in this order. */
enum sl_counter {
	SL_CNT_CT_CREATE_FAIL = 0,	/* conntrack insert failed: flow balanced statelessly */
	SL_CNT_NO_BACKEND_ENTRY,	/* Maglev slot named no backend of this frontend: dropped */
	SL_CNT_REJECT,			/* ICMP unreachable sent */
	SL_CNT_REJECT_FAIL,		/* could not build the ICMP answer: dropped */
	SL_CNT_EXT_NO_LOCAL,		/* externalTrafficPolicy Local, no local endpoint: dropped */
	SL_CNT_EXT_SNAT_FAIL,		/* no node address or free source port to masquerade to: dropped */
	SL_CNT_EXT_FIB_FAIL,		/* no route/neighbour to send a translated packet, or too big
					 * for the egress MTU: dropped (a pod's: "fragmentation needed") */
	SL_CNT_MAX,
};

/*
 * sl_src_ranges, an LPM trie: (frontend, client CIDR) -> 1. prefixlen counts the svc_id's 32 bits
 * plus the CIDR's, so a lookup with prefixlen 64 finds the longest range of that frontend only.
 */
struct sl_src_range_key {
	__u32	prefixlen;
	__u32	svc_id;		/* host order */
	__u8	addr[4];
};

/*
 * Why packets were dropped, index into sl_drops: reasons added after layout 2, in a map of their
 * own so sl_counters keeps the size older pins have.
 */
enum sl_drop {
	SL_DROP_EMPTY = 0,		/* no endpoint for this traffic, others exist (kube-proxy drops) */
	SL_DROP_SRC_RANGE,		/* client outside loadBalancerSourceRanges */
	SL_DROP_FRAG_NO_FIRST,		/* an IP fragment seen before its datagram's first (no ports to look up) */
	SL_DROP_MAX,
};

/*
 * IP fragments (bpf/lib/frag.h): only a datagram's first fragment carries the TCP/UDP header, so
 * each hook remembers its ports by (addresses, IP id, protocol) and gives them to the later
 * fragments, which then match the same conntrack entry and get the same translation.
 */
enum sl_frag_size {
	SL_MAX_FRAGS		= 8192,	/* datagrams in flight in fragments (LRU: the oldest go first) */
};

struct sl_frag_key {
	__be32	saddr;
	__be32	daddr;
	__be16	id;		/* the IP header's identification */
	__u8	proto;
	__u8	pad;
};

/* The ports of that datagram, as its first fragment carried them. */
struct sl_frag_ports {
	__be16	sport;
	__be16	dport;
};

/*
 * Socket-level balancing (bpf/sluice_sock.c). The cgroup programs translate a service address
 * once, at connect()/sendmsg(), and translate the backend back for recvmsg()/getpeername().
 */
enum sl_sock_mode {
	SL_SOCK_ALL		= 0,	/* every socket under the attach cgroup: pods and the node */
	SL_SOCK_HOST_ONLY	= 1,	/* only sockets in the node's own network namespace */
};

enum sl_sock_size {
	/*
	 * sl_sock_rev and sl_sock_rev6 entries (LRU: the oldest go first). UDP only since TCP keeps
	 * its reverse in the socket (sl_sock_peer): one per socket and peer a UDP socket reached a
	 * service through. A DNS query's socket lives milliseconds; 8,192 is seconds of history at
	 * thousands of queries a second, in 1.75 MiB for both families (--max-sock-rev for more).
	 */
	SL_MAX_SOCK_REV		= 8192,
};

/* sl_sock_config[0]: written by the agent before it attaches the socket programs. */
struct sl_sock_config {
	__u64	host_netns_cookie;	/* the node's network namespace (SL_SOCK_HOST_ONLY) */
	__u32	mode;			/* SL_SOCK_* */
	__u32	pad;
};

/*
 * sl_addr_filter: two bitmaps of SL_ADDR_FILTER_BITS bits each, over a hash of an IPv4 address
 * (bpf/lib/addr_filter.h), as SL_ADDR_FILTER_WORDS u64 words per kind. A clear bit proves the
 * address is not one of that kind, so most packets between pods skip every conntrack and service
 * lookup; a set bit only says "look". Bits are only ever set, never cleared while the maps live.
 */
enum sl_addr_kind {
	SL_ADDR_FRONTEND	= 0,	/* any sl_services key's address, set by the agent before the entry */
	SL_ADDR_REPLY_SRC	= 1,	/* the source of any REPLY conntrack key (a backend), set by the datapath */
};

/*
 * 2^19 bits per kind (64 KiB): at 100,000 frontends a pod address still finds its bit clear 83% of
 * the time (100,000 sequential ClusterIPs set all but one of the 65,536 bits before, so every direct
 * and socket-translated packet took the lookups). A pin of another size is replaced and covered again
 * by the agent (agent/bpf/objects.ts).
 */
enum sl_addr_filter_size {
	SL_ADDR_FILTER_WORDS	= 8192,		/* per kind: 524,288 bits, 64 KiB */
	SL_ADDR_FILTER_BITS	= 524288,
	SL_ADDR_FILTER_SHIFT	= 13,		/* 32 - log2(SL_ADDR_FILTER_BITS): the hash's top 19 bits */
};

/* A translated socket and the backend it was given: key of sl_sock_rev. */
struct sl_sock_rev_key {
	__u64	cookie;		/* socket cookie */
	__be32	backend_addr;
	__be16	backend_port;
	__u16	pad;
};

/* The service address that socket asked for, shown back to it. */
struct sl_sock_rev_value {
	__be32	svc_addr;
	__be16	svc_port;
	__u16	pad;
	__u32	svc_id;
	__u32	backend_id;	/* for the agent: sockets to a removed backend are destroyed */
};

/*
 * sl_sock_peer: socket-local storage (BPF_MAP_TYPE_SK_STORAGE) of a TCP socket connect() gave a
 * backend, freed by the kernel with the socket. getpeername() is the only reverse translation a
 * connected TCP socket needs and it can read the socket's own storage, so TCP keeps no entry in
 * the sl_sock_rev LRU, whose every insert evicted under a stream of connections. Both families:
 * an IPv4 peer (an IPv4 socket's, or a dual-stack socket's, which connect6 translated through the
 * IPv4 maps) is held IPv4-mapped (::ffff:a.b.c.d), and its backend_id is then sl_backends', else
 * sl_backends6'. UDP keeps sl_sock_rev: recvmsg() needs it per peer on unconnected sockets.
 */
struct sl_sock_peer {
	__be32	backend_addr[4];	/* the destination connect() was given */
	__be32	svc_addr[4];		/* the service address it asked for */
	__be16	backend_port;
	__be16	svc_port;
	__u32	svc_id;
	__u32	backend_id;		/* for the stale-socket sweep */
};

/* Per-frontend socket-level counters (sl_sock_stats, indexed by svc_id), beside sl_svc_stats. */
struct sl_sock_stats {
	__u64	translations;	/* connect()/sendmsg() calls given a backend */
	__u64	rejects;	/* connect()/sendmsg() refused: no endpoints */
};

/*
 * IPv6 (docs/ipv6.md). The family is known from the L3 header, or from the socket hook, before any
 * map is touched, so IPv6 has maps of its own and the IPv4 path keeps exactly its lookups. What
 * holds no address is shared: sl_svc_value, sl_maglev (backend ids), sl_affinity (a client kind),
 * sl_svc_stats, sl_sock_stats, the counters. Backend ids come from one id space: an id is in
 * sl_backends or in sl_backends6, never both. Adding these maps changed no existing layout.
 *
 * Addresses the datapath compares (conntrack, fragments, socket reverse) are __be32[4], so a
 * comparison is four word loads; the maps people read keep __u8[16], as their IPv4 twins do.
 */
enum sl_size6 {
	SL_MAX_CT6		= 32768,	/* sl_ct6 entries (--max-conntrack6): preallocated, as sl_ct */
};

/* sl_services6: sl_svc_key with a 128-bit address; the value is the same struct sl_svc_value. */
struct sl_svc6_key {
	__u8	vip[16];
	__u16	port;		/* host order */
	__u8	proto;
	__u8	scope;		/* SL_SCOPE_* */
};

/* sl_backends6: by id, from the same id space as sl_backends. */
struct sl_backend6 {
	__u8	ip[16];
	__u16	port;		/* host order */
	__u8	proto;
	__u8	flags;		/* SL_BE_F_* */
	__u32	svc_id;		/* owning frontend */
};

/* sl_ct6: as sl_ct_key / sl_ct_entry, addresses as on the wire. */
struct sl_ct6_key {
	__be32	saddr[4];
	__be32	daddr[4];
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	dir;		/* SL_CT_DIR_* */
	__u16	pad;
};

struct sl_ct6_entry {
	__be32	nat_addr[4];	/* SERVICE: backend address; REPLY: service address */
	__be32	rev_addr[4];	/* with SL_CT_F_SNAT, as sl_ct_entry.rev_addr */
	__be16	nat_port;
	__be16	rev_port;
	__u16	flags;		/* SL_CT_F_* */
	__u16	pad;
	__u32	svc_id;
	__u32	backend_id;
	__u64	created_ns;	/* CLOCK_MONOTONIC */
	__u64	last_seen_ns;	/* refreshed at most once a second */
};

/* sl_src_ranges6: as sl_src_range_key; prefixlen counts svc_id's 32 bits plus the CIDR's (<= 160). */
struct sl_src_range6_key {
	__u32	prefixlen;
	__u32	svc_id;		/* host order */
	__u8	addr[16];
};

/* sl_config6[0]: the node's IPv6 source for masqueraded flows (ports: sl_config's range). */
struct sl_config6 {
	__u8	node_ip[16];	/* all zero: no IPv6 address to masquerade to (flows needing one are dropped) */
};

/* sl_frags6: an IPv6 datagram in fragments (its Fragment header's 32-bit identification). */
struct sl_frag6_key {
	__be32	saddr[4];
	__be32	daddr[4];
	__be32	id;
	__u8	proto;		/* the upper-layer protocol after the extension headers */
	__u8	pad[3];
};

/* sl_sock_rev6: as sl_sock_rev_key / _value for connect6()/sendmsg6() translations. */
struct sl_sock_rev6_key {
	__u64	cookie;		/* socket cookie */
	__be32	backend_addr[4];
	__be16	backend_port;
	__u16	pad;
};

struct sl_sock_rev6_value {
	__be32	svc_addr[4];
	__be16	svc_port;
	__u16	pad;
	__u32	svc_id;
	__u32	backend_id;
};

/*
 * A datapath event about an IPv6 packet: sl_event's fields with 128-bit addresses. Both go to
 * sl_events; a reader tells them apart by the record's size.
 */
struct sl_event6 {
	__u64	ts_ns;
	__be32	saddr[4];
	__be32	daddr[4];
	__be16	sport;
	__be16	dport;
	__u8	proto;
	__u8	type;		/* SL_EV_* */
	__u8	reason;		/* SL_EV_REASON_* */
	__u8	pad;
	__u32	svc_id;
	__u32	backend_id;
	__u32	pad2;
};

#endif /* SLUICE_MAPS_H */
