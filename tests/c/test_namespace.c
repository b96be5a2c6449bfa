/* A namespace named without its leading "/" is the same namespace: "chat" reaches the
 * clients of "/chat" in every call that names one (emit to a sid, to a room, broadcast,
 * emit with ack, join, rooms), and handlers registered as "chat" serve "/chat" (client.py
 * namespace). */
#include <pthread.h>

#include "harness.h"

static ferrosocket_server *server;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int connects, disconnects, acks;

/* The two spellings of the namespace; also the ack callbacks' userdata. */
static const char *const forms[] = {"/chat", "chat"};

static void on_connect(void *userdata, const ferrosocket_connect_request *request) {
  (void)userdata;
  CHECK(str_eq(ferrosocket_connect_request_namespace(request), "/chat"));
  pthread_mutex_lock(&lock);
  connects++;
  pthread_mutex_unlock(&lock);
}

static void on_disconnect(void *userdata, ferrosocket_str nsp, ferrosocket_str sid,
                          ferrosocket_disconnect_reason reason) {
  (void)userdata;
  (void)sid;
  (void)reason;
  CHECK(str_eq(nsp, "/chat"));
  pthread_mutex_lock(&lock);
  disconnects++;
  pthread_mutex_unlock(&lock);
}

/* Sends `got` with the text "<what> <form>" to the client. */
static void report(ferrosocket_str sid, const char *what, const char *form) {
  char args[64];
  snprintf(args, sizeof args, "[\"%s %s\"]", what, form);
  CHECK_OK(ferrosocket_server_emit_to_sid(server, FERROSOCKET_STR("/chat"), sid.data, sid.len,
                                          FERROSOCKET_STR("got"), FERROSOCKET_JSON_ARGS(args)));
}

static void on_answer(void *userdata, ferrosocket_result result, ferrosocket_str nsp,
                      ferrosocket_str sid, const ferrosocket_args *reply) {
  const char *form = userdata;
  CHECK(result == FERROSOCKET_RESULT_OK);
  CHECK(str_eq(nsp, "/chat")); /* the namespace's own name, whichever form asked */
  char expected[32];
  snprintf(expected, sizeof expected, "[\"answer %s\"]", form);
  CHECK(reply->json_len == strlen(expected) && memcmp(reply->json, expected, reply->json_len) == 0);
  report(sid, "ack", form);
  pthread_mutex_lock(&lock);
  acks++;
  pthread_mutex_unlock(&lock);
}

static void on_probe(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  CHECK(str_eq(ferrosocket_event_namespace(event), "/chat"));
  ferrosocket_str sid = ferrosocket_event_sid(event);
  for (size_t i = 0; i < 2; i++) {
    const char *form = forms[i];
    size_t form_len = strlen(form);
    char args[64], room[32];
    snprintf(args, sizeof args, "[\"sid %s\"]", form);
    CHECK_OK(ferrosocket_server_emit_to_sid(server, form, form_len, sid.data, sid.len,
                                            FERROSOCKET_STR("got"), FERROSOCKET_JSON_ARGS(args)));
    snprintf(room, sizeof room, "room %s", form);
    CHECK_OK(ferrosocket_server_join(server, form, form_len, sid.data, sid.len,
                                     FERROSOCKET_STR(room)));
    size_t count = 0;
    snprintf(args, sizeof args, "[\"room %s\"]", form);
    CHECK_OK(ferrosocket_server_emit_to_room(server, form, form_len, FERROSOCKET_STR(room),
                                             FERROSOCKET_STR("got"), FERROSOCKET_JSON_ARGS(args),
                                             &count));
    CHECK(count == 1);
    count = 0;
    snprintf(args, sizeof args, "[\"all %s\"]", form);
    CHECK_OK(ferrosocket_server_broadcast(server, form, form_len, NULL, 0, NULL, 0,
                                          FERROSOCKET_STR("got"), FERROSOCKET_JSON_ARGS(args),
                                          &count));
    CHECK(count == 1);
    snprintf(args, sizeof args, "[\"%s\"]", form);
    CHECK_OK(ferrosocket_server_emit_with_ack(server, form, form_len, sid.data, sid.len,
                                              FERROSOCKET_STR("question"),
                                              FERROSOCKET_JSON_ARGS(args), 5000, on_answer,
                                              (void *)form));
  }
  /* Names that are not the namespace in either form. */
  CHECK_RC(ferrosocket_server_emit_to_sid(server, FERROSOCKET_STR("chat/"), sid.data, sid.len,
                                          FERROSOCKET_STR("got"), NULL),
           FERROSOCKET_RESULT_UNKNOWN_NAMESPACE);
  CHECK_RC(ferrosocket_server_emit_to_sid(server, FERROSOCKET_STR("/"), sid.data, sid.len,
                                          FERROSOCKET_STR("got"), NULL),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  /* The rooms, read through "chat": the ack is that JSON array as the one argument. */
  char rooms[256];
  size_t len = 0;
  CHECK_OK(ferrosocket_server_rooms(server, FERROSOCKET_STR("chat"), sid.data, sid.len, rooms,
                                    sizeof rooms - 2, &len));
  char out[260];
  snprintf(out, sizeof out, "[%s]", rooms);
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(out)));
}

int main(void) {
  server = test_server(2);
  /* Registered under both spellings: one namespace either way. */
  CHECK_OK(ferrosocket_server_on_connect(server, FERROSOCKET_STR("/chat"), on_connect, NULL));
  CHECK_OK(ferrosocket_server_on_disconnect(server, FERROSOCKET_STR("chat"), on_disconnect, NULL));
  CHECK_OK(ferrosocket_server_on(server, FERROSOCKET_STR("chat"), FERROSOCKET_STR("probe"),
                                 on_probe, NULL));
  CHECK(wait_client(start_client("namespace", start_server(server))) == 0);
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&lock);
    int done = disconnects;
    pthread_mutex_unlock(&lock);
    if (done) break;
    sleep_ms(10);
  }
  pthread_mutex_lock(&lock);
  CHECK(connects == 1 && disconnects == 1 && acks == 2);
  pthread_mutex_unlock(&lock);
  CHECK_OK(ferrosocket_server_stop(server));
  ferrosocket_server_free(server);
  return finish("test_namespace");
}
