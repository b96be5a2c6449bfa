/* Shared helpers for the C tests: checks, clocks, and running the Python client. */
#ifndef FERROSOCKET_TEST_HARNESS_H
#define FERROSOCKET_TEST_HARNESS_H

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferrosocket.h"

extern char **environ;

static int harness_failures = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      harness_failures++;                                                        \
    }                                                                            \
  } while (0)

#define CHECK_RC(call, expected)                                                 \
  do {                                                                           \
    ferrosocket_result rc_ = (call);                                             \
    if (rc_ != (expected)) {                                                     \
      char msg_[512];                                                            \
      size_t len_ = 0;                                                           \
      ferrosocket_last_error(msg_, sizeof msg_, &len_);                          \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",   \
              __FILE__, __LINE__, #call, ferrosocket_result_name(rc_),           \
              ferrosocket_result_name(expected), msg_);                          \
      harness_failures++;                                                        \
    }                                                                            \
  } while (0)

#define CHECK_OK(call) CHECK_RC(call, FERROSOCKET_RESULT_OK)

/* Compares a ferrosocket_str with a C string. */
static inline int str_eq(ferrosocket_str s, const char *expected) {
  size_t n = strlen(expected);
  return s.len == n && (n == 0 || memcmp(s.data, expected, n) == 0);
}

static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts `python tests/c/client.py SCENARIO PORT` in the background. */
static inline pid_t start_client(const char *scenario, uint16_t port) {
  const char *python = getenv("FERROSOCKET_PYTHON");
  const char *script = getenv("FERROSOCKET_CLIENT");
  if (!python || !script) {
    fprintf(stderr, "set FERROSOCKET_PYTHON and FERROSOCKET_CLIENT (tests/c/run.sh does)\n");
    exit(2);
  }
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
  char *argv[] = {(char *)python, (char *)script, (char *)scenario, port_text, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, python, NULL, NULL, argv, environ);
  if (rc != 0) {
    fprintf(stderr, "posix_spawn %s: %s\n", python, strerror(rc));
    exit(2);
  }
  return pid;
}

/* Waits for a client started with start_client; returns its exit status (-1 if killed). */
static inline int wait_client(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A server on 127.0.0.1 and a free port, with short timeouts for tests. */
static inline ferrosocket_server *test_server(size_t dispatch_threads) {
  ferrosocket_config *config = ferrosocket_config_new();
  CHECK(config != NULL);
  CHECK_OK(ferrosocket_config_set_dispatch_threads(config, dispatch_threads));
  CHECK_OK(ferrosocket_config_set_io_threads(config, 2));
  CHECK_OK(ferrosocket_config_set_shutdown_timeout_ms(config, 3000));
  ferrosocket_server *server = NULL;
  CHECK_OK(ferrosocket_server_new(config, &server));
  ferrosocket_config_free(config);
  CHECK(server != NULL);
  return server;
}

static inline uint16_t start_server(ferrosocket_server *server) {
  uint16_t port = 0;
  CHECK_OK(ferrosocket_server_start(server));
  CHECK_OK(ferrosocket_server_local_port(server, &port));
  CHECK(port != 0);
  return port;
}

static inline int finish(const char *name) {
  if (harness_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, harness_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

#endif
