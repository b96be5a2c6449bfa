/* Events, acks both ways, binary, rooms, connect refusal and handshake, driven by
 * python-socketio (client.py events). */
#include <pthread.h>

#include "harness.h"

static ferrosocket_server *server;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char handshake_seen[128];
static char last_reason[64];
static int disconnects;
static ferrosocket_result answer_result = FERROSOCKET_RESULT_PANIC;
static pthread_t later_thread;
static int later_started;

#define NSP FERROSOCKET_STR("/")

static void on_connect(void *userdata, const ferrosocket_connect_request *request) {
  (void)userdata;
  ferrosocket_str auth = ferrosocket_connect_request_auth(request);
  if (auth.len && memmem(auth.data, auth.len, "bad", 3)) {
    CHECK_OK(ferrosocket_connect_request_refuse(request, FERROSOCKET_STR("unauthorized"),
                                        FERROSOCKET_STR("{\"code\":401}")));
    return;
  }
  CHECK_RC(ferrosocket_connect_request_refuse(request, FERROSOCKET_STR("x"), FERROSOCKET_STR("{bad")),
           FERROSOCKET_RESULT_INVALID_JSON);
  ferrosocket_str user = {0}, header = {0}, missing = {0};
  CHECK_OK(ferrosocket_connect_request_query_param(request, FERROSOCKET_STR("user"), &user));
  CHECK_OK(ferrosocket_connect_request_header(request, FERROSOCKET_STR("X-TEST"), &header));
  CHECK_RC(ferrosocket_connect_request_header(request, FERROSOCKET_STR("x-none"), &missing),
           FERROSOCKET_RESULT_NOT_FOUND);
  CHECK(str_eq(ferrosocket_connect_request_namespace(request), "/"));
  ferrosocket_str sid = ferrosocket_connect_request_sid(request);
  CHECK(sid.len == 20);
  pthread_mutex_lock(&lock);
  snprintf(handshake_seen, sizeof handshake_seen, "%.*s %.*s %s", (int)user.len, user.data,
           (int)header.len, header.data,
           memmem(auth.data, auth.len, "secret", 6) ? "secret" : "?");
  pthread_mutex_unlock(&lock);
  /* The socket exists during its connect callback: join and emit work already. */
  CHECK_OK(ferrosocket_server_join(server, NSP, sid.data, sid.len, FERROSOCKET_STR("lobby")));
  char args[64];
  snprintf(args, sizeof args, "[\"hello %.*s\"]", (int)user.len, user.data);
  CHECK_OK(ferrosocket_server_emit_to_sid(server, NSP, sid.data, sid.len,
                                          FERROSOCKET_STR("welcome"), FERROSOCKET_JSON_ARGS(args)));
}

static void on_disconnect(void *userdata, ferrosocket_str nsp, ferrosocket_str sid,
                          ferrosocket_disconnect_reason reason) {
  (void)userdata;
  CHECK(str_eq(nsp, "/"));
  CHECK(sid.len == 20);
  CHECK(reason == FERROSOCKET_DISCONNECT_REASON_SERVER_NAMESPACE_DISCONNECT);
  pthread_mutex_lock(&lock);
  snprintf(last_reason, sizeof last_reason, "%s", ferrosocket_disconnect_reason_name(reason));
  disconnects++;
  pthread_mutex_unlock(&lock);
}

static void on_echo(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  CHECK(str_eq(ferrosocket_event_name(event), "echo"));
  CHECK(ferrosocket_event_wants_ack(event));
  /* The event's own arguments, passed back as they are: an echo. */
  ferrosocket_args args = ferrosocket_event_args(event);
  CHECK(args.nbins == 0 && args.bins == NULL);
  CHECK_OK(ferrosocket_event_ack(event, &args));
  CHECK(!ferrosocket_event_wants_ack(event));
  CHECK_RC(ferrosocket_event_ack(event, &args), FERROSOCKET_RESULT_NO_ACK);
}

static void on_bin(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  CHECK(ferrosocket_event_binary_count(event) == 1);
  ferrosocket_bytes in = ferrosocket_event_binary(event, 0);
  CHECK(in.len == 3 && in.data[0] == 0 && in.data[1] == 1 && in.data[2] == 2);
  CHECK(ferrosocket_event_binary(event, 1).len == 0);
  /* Every attachment at once, the same bytes as one by one. */
  ferrosocket_args all = ferrosocket_event_args(event);
  CHECK(all.nbins == 1 && all.bins[0].data == in.data && all.bins[0].len == 3);
  uint8_t out[3] = {in.data[2], in.data[1], in.data[0]};
  ferrosocket_bytes bins[1] = {{out, 3}};
  /* A placeholder with no attachment is refused; the ack stays pending. */
  ferrosocket_args past = {FERROSOCKET_STR("[{\"_placeholder\":true,\"num\":1}]"), bins, 1};
  CHECK_RC(ferrosocket_event_ack(event, &past), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  ferrosocket_args reversed = {FERROSOCKET_STR("[{\"_placeholder\":true,\"num\":0},3]"), bins, 1};
  CHECK_OK(ferrosocket_event_ack(event, &reversed));
}

static void *answer_later(void *arg) {
  ferrosocket_ack *ack = arg;
  sleep_ms(50);
  CHECK_OK(ferrosocket_ack_send(ack, FERROSOCKET_JSON_ARGS("[\"later\",5]")));
  CHECK_RC(ferrosocket_ack_send(ack, FERROSOCKET_JSON_ARGS("[]")), FERROSOCKET_RESULT_NO_ACK);
  ferrosocket_ack_free(ack);
  return NULL;
}

static void on_later(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_ack *ack = ferrosocket_event_take_ack(event);
  CHECK(ack != NULL);
  CHECK(ferrosocket_event_take_ack(event) == NULL);
  CHECK(pthread_create(&later_thread, NULL, answer_later, ack) == 0);
  pthread_mutex_lock(&lock);
  later_started = 1;
  pthread_mutex_unlock(&lock);
}

static void on_rooms(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  char small[4];
  size_t needed = 0;
  CHECK_RC(ferrosocket_server_rooms(server, NSP, sid.data, sid.len, small, sizeof small, &needed),
           FERROSOCKET_RESULT_BUFFER_TOO_SMALL);
  CHECK(needed > sizeof small);
  char *json = malloc(needed + 1);
  size_t len = 0;
  CHECK_OK(ferrosocket_server_rooms(server, NSP, sid.data, sid.len, json, needed + 1, &len));
  CHECK(len == needed && json[len] == 0);
  char *args = malloc(len + 3);
  snprintf(args, len + 3, "[%s]", json);
  CHECK_OK(ferrosocket_event_ack(event, &(ferrosocket_args){args, len + 2, NULL, 0}));
  free(args);
  free(json);
}

static void on_handshake(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  char args[160];
  pthread_mutex_lock(&lock);
  snprintf(args, sizeof args, "[\"%s\"]", handshake_seen);
  pthread_mutex_unlock(&lock);
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(args)));
}

static void on_shout(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  ferrosocket_str rooms[1] = {{"lobby", 5}};
  ferrosocket_str except[1] = {sid};
  size_t count = 99;
  CHECK_OK(ferrosocket_server_broadcast(server, NSP, rooms, 1, except, 1, FERROSOCKET_STR("news"),
                                        FERROSOCKET_JSON_ARGS("[1]"), &count));
  CHECK(count == 0);
  uint8_t byte = 0xff;
  ferrosocket_bytes bins[1] = {{&byte, 1}};
  ferrosocket_args args = ferrosocket_event_args(event);
  /* ["{...}"] + placeholder: splice the client's first argument with a binary. */
  char out[256];
  snprintf(out, sizeof out, "%.*s,{\"_placeholder\":true,\"num\":0}]", (int)(args.json_len - 1),
           args.json);
  ferrosocket_args news = {FERROSOCKET_STR(out), bins, 1};
  CHECK_OK(ferrosocket_server_emit_to_room(server, NSP, FERROSOCKET_STR("lobby"),
                                           FERROSOCKET_STR("news"), &news, &count));
  CHECK(count == 1);
}

/* The ack callback is told which client answered: no per-call context needed. */
static void on_answer(void *userdata, ferrosocket_result result, ferrosocket_str nsp,
                      ferrosocket_str sid, const ferrosocket_args *reply) {
  CHECK(userdata == &answer_result);
  CHECK(str_eq(nsp, "/"));
  CHECK(sid.len == 20);
  CHECK(reply != NULL && reply->nbins == 0);
  pthread_mutex_lock(&lock);
  answer_result = result;
  pthread_mutex_unlock(&lock);
  /* Send the reply back as one JSON string argument, escaping its quotes. */
  char out[256];
  size_t n = 0;
  out[n++] = '[';
  out[n++] = '"';
  for (size_t i = 0; i < reply->json_len && n < sizeof out - 4; i++) {
    if (reply->json[i] == '"' || reply->json[i] == '\\') out[n++] = '\\';
    out[n++] = reply->json[i];
  }
  out[n++] = '"';
  out[n++] = ']';
  CHECK_OK(ferrosocket_server_emit_to_sid(server, nsp.data, nsp.len, sid.data, sid.len,
                                          FERROSOCKET_STR("answered"),
                                          &(ferrosocket_args){out, n, NULL, 0}));
}

static void on_ask(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  CHECK_OK(ferrosocket_server_emit_with_ack(server, NSP, sid.data, sid.len,
                                            FERROSOCKET_STR("question"),
                                            FERROSOCKET_JSON_ARGS("[\"q?\"]"), 2000, on_answer,
                                            &answer_result));
}

static void on_bye(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  /* Stopping from a callback would wait for this very thread: refused. */
  CHECK_RC(ferrosocket_server_stop(server), FERROSOCKET_RESULT_IN_CALLBACK);
  ferrosocket_str sid = ferrosocket_event_sid(event);
  CHECK_OK(ferrosocket_server_disconnect(server, NSP, sid.data, sid.len));
}

int main(void) {
  server = test_server(4);
  CHECK_OK(ferrosocket_server_on_connect(server, NSP, on_connect, NULL));
  CHECK_OK(ferrosocket_server_on_disconnect(server, NSP, on_disconnect, NULL));
  struct {
    const char *name;
    ferrosocket_event_callback callback;
  } handlers[] = {{"echo", on_echo},       {"bin", on_bin},     {"later", on_later},
                  {"rooms", on_rooms},     {"shout", on_shout}, {"ask", on_ask},
                  {"handshake", on_handshake}, {"bye", on_bye}};
  for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
    CHECK_OK(ferrosocket_server_on(server, NSP, FERROSOCKET_STR(handlers[i].name),
                                   handlers[i].callback, NULL));
  }
  uint16_t port = start_server(server);
  int status = wait_client(start_client("events", port));
  CHECK(status == 0);
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&lock);
    int done = disconnects;
    pthread_mutex_unlock(&lock);
    if (done) break;
    sleep_ms(10);
  }
  pthread_mutex_lock(&lock);
  CHECK(disconnects == 1);
  CHECK(strcmp(last_reason, "server namespace disconnect") == 0);
  CHECK(answer_result == FERROSOCKET_RESULT_OK);
  int joined = later_started;
  pthread_mutex_unlock(&lock);
  if (joined) pthread_join(later_thread, NULL);
  CHECK_OK(ferrosocket_server_stop(server));
  ferrosocket_server_free(server);
  return finish("test_events");
}
