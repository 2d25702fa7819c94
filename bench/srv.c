// SPDX-License-Identifier: Apache-2.0
/*
 * Backend for the connection-rate benchmark (compiled by bench/run.ts into build/bench/srv).
 *
 *   srv PORT ID [6]  accept, read the 1-byte request, answer with the byte ID (which backend this
 *                    is), close; one connection at a time, like the single-threaded client.
 *                    With 6: an IPv6-only listener (IPV6_V6ONLY), so it shares PORT with the IPv4
 *                    one and each family's connections are served by a socket of that family.
 *
 * Prints "ready" once listening. Runs until killed (the harness kills it with its namespace).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct timeval tv = { .tv_sec = 1 };
	int one = 1, v6, l, c;
	char id, b;

	if (argc < 3 || (argc > 3 && strcmp(argv[3], "6") != 0)) {
		fprintf(stderr, "usage: srv PORT ID [6]\n");
		return 2;
	}
	id = argv[2][0];
	v6 = argc > 3;
	a.sin_port = a6.sin6_port = htons((unsigned short)atoi(argv[1]));
	l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (v6 && setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    (v6 ? bind(l, (struct sockaddr *)&a6, sizeof(a6)) : bind(l, (struct sockaddr *)&a, sizeof(a))) ||
	    listen(l, 4096)) {
		perror("srv");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (read(c, &b, 1) == 1)
			(void)!write(c, &id, 1);
		close(c);
	}
}
