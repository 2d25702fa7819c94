// SPDX-License-Identifier: Apache-2.0
/*
 * Connection-rate client for `make bench` (compiled by bench/run.ts into build/bench/crr).
 *
 * IP is an IPv4 address or an IPv6 one (fd00:10:96::1, no brackets): the socket takes its family.
 *
 *   crr crr   IP PORT SECONDS          new TCP connection, 1-byte request, 1-byte reply, wait for
 *                                      the server's close, close; repeat for SECONDS; prints
 *                                      {"conns":N,"errors":E,"seconds":S,"rate":R}
 *   crr watch IP PORT WANT TIMEOUT_MS  the same exchange in a loop; prints "ready" after the first
 *                                      answer that is not WANT (the old backend), then, as
 *                                      CLOCK_MONOTONIC times in ns, when the first probe answered
 *                                      by WANT was opened (its connect(): the datapath sent it to
 *                                      WANT, so it used the new endpoint by then) and when its
 *                                      answer came: {"opened_ns":O,"seen_ns":T,"probes":N} (or
 *                                      {"timeout":true}). The probe before it, opened at most one
 *                                      exchange and a 200 us pause earlier, was not sent to WANT.
 *
 * Every exchange has a 1 s socket timeout, so a dropped SYN counts as an error instead of hanging,
 * and every mode stops by itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct target {
	struct sockaddr_storage addr;
	socklen_t len;
};

/* One exchange; returns the reply byte, or -1 on any failure. */
static int exchange(const struct target *to)
{
	struct timeval tv = { .tv_sec = 1 };
	char req = 'x', rep, tail;
	int s, r = -1;

	s = socket(to->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (const struct sockaddr *)&to->addr, to->len) == 0 &&
	    write(s, &req, 1) == 1 && read(s, &rep, 1) == 1) {
		/* The server closes first (so TIME_WAIT stays on its side): wait for its FIN. */
		if (read(s, &tail, 1) == 0)
			r = (unsigned char)rep;
	}
	close(s);
	return r;
}

static int parse_addr(struct target *t, const char *ip, const char *port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;
	unsigned short p = htons((unsigned short)atoi(port));

	memset(t, 0, sizeof(*t));
	if (strchr(ip, ':')) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = p;
		t->len = sizeof(*a6);
		return inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1 ? 0 : -1;
	}
	a4->sin_family = AF_INET;
	a4->sin_port = p;
	t->len = sizeof(*a4);
	return inet_pton(AF_INET, ip, &a4->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct target to;

	if (argc >= 5 && strcmp(argv[1], "crr") == 0) {
		double secs = atof(argv[4]);
		long long start, end, t;
		long conns = 0, errors = 0;

		if (parse_addr(&to, argv[2], argv[3]) || secs <= 0 || secs > 600)
			goto usage;
		start = now_ns();
		end = start + (long long)(secs * 1e9);
		do {
			if (exchange(&to) >= 0)
				conns++;
			else
				errors++;
			t = now_ns();
		} while (t < end);
		printf("{\"conns\":%ld,\"errors\":%ld,\"seconds\":%.6f,\"rate\":%.1f}\n", conns, errors,
		       (t - start) / 1e9, conns / ((t - start) / 1e9));
		return 0;
	}
	if (argc >= 6 && strcmp(argv[1], "watch") == 0) {
		int want = (unsigned char)argv[4][0], ready = 0, r;
		long long deadline;
		long probes = 0;
		struct timespec pause = { .tv_nsec = 200000 };

		if (parse_addr(&to, argv[2], argv[3]))
			goto usage;
		deadline = now_ns() + atoll(argv[5]) * 1000000LL;
		while (now_ns() < deadline) {
			long long opened = now_ns();

			r = exchange(&to);
			probes++;
			if (r == want && ready) {
				printf("{\"opened_ns\":%lld,\"seen_ns\":%lld,\"probes\":%ld}\n", opened, now_ns(), probes);
				return 0;
			}
			if (r >= 0 && r != want && !ready) {
				ready = 1;
				printf("ready\n");
				fflush(stdout);
			}
			nanosleep(&pause, NULL);
		}
		printf("{\"timeout\":true,\"probes\":%ld,\"ready\":%d}\n", probes, ready);
		return 1;
	}
usage:
	fprintf(stderr, "usage: crr crr IP PORT SECONDS | crr watch IP PORT WANT TIMEOUT_MS\n");
	return 2;
}
