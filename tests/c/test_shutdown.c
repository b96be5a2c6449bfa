/* Stop-then-free and free-without-stop with a client still connected; an ack handle
 * outliving its server (client.py linger). */
#include <pthread.h>

#include "harness.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ready;
static char reason[64];
static ferrosocket_ack *kept_ack;

static void on_ready(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  (void)event;
  pthread_mutex_lock(&lock);
  ready = 1;
  pthread_mutex_unlock(&lock);
}

static void on_disconnect(void *userdata, ferrosocket_str nsp, ferrosocket_str sid,
                          ferrosocket_disconnect_reason why) {
  (void)userdata;
  (void)nsp;
  (void)sid;
  CHECK(why == FERROSOCKET_DISCONNECT_REASON_SERVER_SHUTTING_DOWN);
  pthread_mutex_lock(&lock);
  snprintf(reason, sizeof reason, "%s", ferrosocket_disconnect_reason_name(why));
  pthread_mutex_unlock(&lock);
}

static void round_trip(int stop_first) {
  ready = 0;
  reason[0] = 0;
  ferrosocket_server *server = test_server(2);
  CHECK_OK(ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("ready"), on_ready, NULL));
  CHECK_OK(ferrosocket_server_on_disconnect(server, FERROSOCKET_STR("/"), on_disconnect, NULL));
  pid_t client = start_client("linger", start_server(server));
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&lock);
    int r = ready;
    pthread_mutex_unlock(&lock);
    if (r) break;
    sleep_ms(10);
  }
  CHECK(ready);
  double started = now_seconds();
  if (stop_first) {
    CHECK_OK(ferrosocket_server_stop(server));
    CHECK_OK(ferrosocket_server_stop(server)); /* idempotent */
    CHECK_RC(ferrosocket_server_start(server), FERROSOCKET_RESULT_INVALID_STATE);
  }
  ferrosocket_server_free(server);
  CHECK(now_seconds() - started < 5.0);
  /* Disconnect callbacks ran before stop/free returned. */
  pthread_mutex_lock(&lock);
  CHECK(strcmp(reason, "server shutting down") == 0);
  pthread_mutex_unlock(&lock);
  CHECK(wait_client(client) == 0);
}

int main(void) {
  round_trip(1);
  round_trip(0);
  ferrosocket_ack_free(kept_ack); /* NULL: no-op */
  return finish("test_shutdown");
}
