// A small UDP packet generator for bench/northsouth.ts (the fallback when xdp-trafficgen cannot
// run): sendmmsg() batches of 64 datagrams of <bytes> payload to <ip>:<port> for <secs> seconds,
// source ports varied over 64 sockets so flows spread. Prints {"sent":N,"errors":E,"secs":S}.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv)
{
	if (argc < 5) { fprintf(stderr, "usage: udpflood IP PORT SECS BYTES\n"); return 2; }
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) { fprintf(stderr, "bad ip\n"); return 2; }
	double secs = atof(argv[3]);
	int bytes = atoi(argv[4]);
	if (secs <= 0 || secs > 120 || bytes < 1 || bytes > 1400) { fprintf(stderr, "secs 0..120, bytes 1..1400\n"); return 2; }
	enum { SOCKS = 64, BATCH = 64 };
	int fds[SOCKS];
	for (int i = 0; i < SOCKS; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof(dst))) { perror("socket"); return 1; }
	}
	char buf[1400];
	memset(buf, 'x', sizeof(buf));
	struct iovec iov = { .iov_base = buf, .iov_len = bytes };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) { msgs[i].msg_hdr.msg_iov = &iov; msgs[i].msg_hdr.msg_iovlen = 1; }
	unsigned long long sent = 0, errors = 0;
	double t0 = now(), t = t0;
	for (unsigned k = 0; t - t0 < secs; k++) {
		int n = sendmmsg(fds[k % SOCKS], msgs, BATCH, 0);
		if (n > 0) sent += n; else errors++;
		if ((k & 63) == 0) t = now();
	}
	printf("{\"sent\":%llu,\"errors\":%llu,\"secs\":%.3f}\n", sent, errors, now() - t0);
	return 0;
}
