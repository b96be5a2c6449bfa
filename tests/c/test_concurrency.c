/* A callback blocking one client for a second does not delay other clients; one
 * client's events reach the callback in order (client.py concurrency). */
#include <pthread.h>

#include "harness.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int next_seq;
static int in_order = 1;

static void on_slow(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  sleep_ms(1000); /* a blocking call, on a dispatch thread: only this client waits */
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS("[\"done\"]")));
}

static void on_fast(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_args args = ferrosocket_event_args(event);
  CHECK_OK(ferrosocket_event_ack(event, &args));
}

static void on_seq(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_args args = ferrosocket_event_args(event); /* "[n]" */
  int n = atoi(args.json + 1);
  pthread_mutex_lock(&lock);
  if (n != next_seq) in_order = 0;
  next_seq = n + 1;
  pthread_mutex_unlock(&lock);
}

static void on_seq_done(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  char args[64];
  pthread_mutex_lock(&lock);
  snprintf(args, sizeof args, "[[%d,%s]]", next_seq, in_order ? "true" : "false");
  pthread_mutex_unlock(&lock);
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(args)));
}

int main(void) {
  ferrosocket_server *server = test_server(4);
  CHECK_OK(ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("slow"), on_slow, NULL));
  CHECK_OK(ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("fast"), on_fast, NULL));
  CHECK_OK(ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("seq"), on_seq, NULL));
  CHECK_OK(ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("seq_done"),
                                 on_seq_done, NULL));
  uint16_t port = start_server(server);
  CHECK(wait_client(start_client("concurrency", port)) == 0);
  pthread_mutex_lock(&lock);
  CHECK(next_seq == 300 && in_order);
  pthread_mutex_unlock(&lock);
  CHECK_OK(ferrosocket_server_stop(server));
  ferrosocket_server_free(server);
  return finish("test_concurrency");
}
