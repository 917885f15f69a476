// SPDX-License-Identifier: GPL-2.0-or-later
// devcluster-ctld-host: preloaded into a slurmctld of a local cluster with a backup controller (devcluster up
// --backup-ctld), so that two slurmctld can run on one host as on two: gethostname() says the SlurmctldHost name
// the daemon stands for (slurmctld finds its own index, primary or backup, by its host name), and its listening
// socket on SlurmctldPort is bound to that SlurmctldHost's loopback address instead of every address (both use
// the same port, as on two hosts). Nothing else is changed. Harness only: never installed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int gethostname(char* name, size_t len) {
  const char* host = getenv("DEVCLUSTER_CTLD_HOST");
  if (!host || !*host) {
    int (*real)(char*, size_t) = (int (*)(char*, size_t))dlsym(RTLD_NEXT, "gethostname");
    return real(name, len);
  }
  if (strlen(host) + 1 > len) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(name, host);
  return 0;
}

int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  int (*real)(int, const struct sockaddr*, socklen_t) =
      (int (*)(int, const struct sockaddr*, socklen_t))dlsym(RTLD_NEXT, "bind");
  const char* ip = getenv("DEVCLUSTER_CTLD_ADDR");
  const char* port = getenv("DEVCLUSTER_CTLD_PORT");
  if (ip && port && addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, addr, sizeof in);
    if (in.sin_addr.s_addr == htonl(INADDR_ANY) && ntohs(in.sin_port) == (unsigned)atoi(port) &&
        inet_pton(AF_INET, ip, &in.sin_addr) == 1)
      return real(fd, (const struct sockaddr*)&in, sizeof in);
  }
  return real(fd, addr, len);
}
