/* A C server over the ferrosocket C ABI for loadgen's `echo` (bench/README.md): every
 * event goes through a C callback on a dispatch thread and back.
 *
 *   ack   acks with its arguments (what `loadgen echo` sends: 42<id>["ack",<payload>])
 *   echo  emits `echo` back to the sender with the same arguments
 *   join  joins room <arg 0> (a string) and acks with the socket's rooms (JSON array)
 *   sleep sleeps 1 ms (a stand-in for a database call), then acks with its arguments
 *
 * (`emit` of tests/test-server/SPEC.md is left out: it needs a JSON parser.)
 *
 *   echo [--host 127.0.0.1] [--port 0] [--dispatch-threads N] [--io-threads N]
 *
 * Prints `LISTENING <host>:<port>` (flushed) once listening; SIGTERM / SIGINT stop it
 * gracefully (exit 0). Build: see bench/peers/c/README.md. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferrosocket.h"

static ferrosocket_server *server;

static void on_ack(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_args args = ferrosocket_event_args(event); /* JSON and every attachment */
  ferrosocket_event_ack(event, &args);
}

static void on_sleep(void *userdata, const ferrosocket_event *event) {
  struct timespec ms = {0, 1000000};
  nanosleep(&ms, NULL);
  on_ack(userdata, event);
}

static void on_echo(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str nsp = ferrosocket_event_namespace(event);
  ferrosocket_str sid = ferrosocket_event_sid(event);
  ferrosocket_args args = ferrosocket_event_args(event);
  args.nbins = 0; /* as before: the JSON only */
  args.bins = NULL;
  ferrosocket_server_emit_to_sid(server, nsp.data, nsp.len, sid.data, sid.len,
                                 FERROSOCKET_STR("echo"), &args);
}

static void on_join(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str nsp = ferrosocket_event_namespace(event);
  ferrosocket_str sid = ferrosocket_event_sid(event);
  ferrosocket_args args = ferrosocket_event_args(event); /* ["room", ...] */
  if (args.json_len > 4 && args.json[1] == '"') {
    const char *start = args.json + 2;
    const char *end = memchr(start, '"', args.json_len - 2);
    if (end && end > start)
      ferrosocket_server_join(server, nsp.data, nsp.len, sid.data, sid.len, start,
                              (size_t)(end - start));
  }
  char rooms[4096];
  size_t len = 0;
  if (ferrosocket_server_rooms(server, nsp.data, nsp.len, sid.data, sid.len, rooms + 1,
                               sizeof rooms - 2, &len) == FERROSOCKET_RESULT_OK) {
    rooms[0] = '[';
    rooms[len + 1] = ']';
    ferrosocket_event_ack(event, &(ferrosocket_args){rooms, len + 2, NULL, 0});
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = 0, dispatch = 0, io = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) {
      fprintf(stderr, "echo: %s needs a value\n", argv[i]);
      return 2;
    }
    const char *opt = argv[i], *value = argv[++i];
    if (!strcmp(opt, "--host")) host = value;
    else if (!strcmp(opt, "--port")) port = atol(value);
    else if (!strcmp(opt, "--dispatch-threads")) dispatch = atol(value);
    else if (!strcmp(opt, "--io-threads")) io = atol(value);
    else {
      fprintf(stderr, "echo: unknown option %s\n", opt);
      return 2;
    }
  }
  /* Block the stop signals in every thread (the library's threads inherit the mask);
   * main waits for them with sigwait. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);

  ferrosocket_config *config = ferrosocket_config_new();
  ferrosocket_config_set_host(config, host, strlen(host));
  ferrosocket_config_set_port(config, (uint16_t)port);
  if (dispatch > 0) ferrosocket_config_set_dispatch_threads(config, (size_t)dispatch);
  if (io > 0) ferrosocket_config_set_io_threads(config, (size_t)io);
  ferrosocket_result rc = ferrosocket_server_new(config, &server);
  ferrosocket_config_free(config);
  if (rc != FERROSOCKET_RESULT_OK) {
    fprintf(stderr, "echo: server_new: %s\n", ferrosocket_result_name(rc));
    return 1;
  }
  ferrosocket_log_set_stderr(FERROSOCKET_LOG_LEVEL_WARN);
  ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("ack"), on_ack, NULL);
  ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("echo"), on_echo, NULL);
  ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("join"), on_join, NULL);
  ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("sleep"), on_sleep, NULL);
  if ((rc = ferrosocket_server_start(server)) != FERROSOCKET_RESULT_OK) {
    fprintf(stderr, "echo: start: %s\n", ferrosocket_result_name(rc));
    return 1;
  }
  uint16_t bound = 0;
  ferrosocket_server_local_port(server, &bound);
  printf("LISTENING %s:%u\n", host, (unsigned)bound);
  fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  ferrosocket_server_stop(server);
  ferrosocket_server_free(server);
  return 0;
}
