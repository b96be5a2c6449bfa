/* on_any, broadcast to several rooms with except rooms and sids, handshake headers and
 * remote address, server-to-client acks (reply and TIMEOUT on a dispatch thread), the log
 * callback (client.py extras); CANCELLED when the server is freed while an ack is pending
 * (client.py hold). */
#include <pthread.h>

#include "harness.h"

static ferrosocket_server *server;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char connect_addr[64];
static int headers_ok;
static int log_messages, log_session_closed, log_bad_level;

#define NSP FERROSOCKET_STR("/")

static int on_dispatch_thread(void) {
  char name[32] = {0};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return strncmp(name, "ferrosocket-dis", 15) == 0;
}

/* ---- log callback ------------------------------------------------------------------ */

static void on_log(void *userdata, ferrosocket_log_level level, ferrosocket_str target,
                   ferrosocket_str message) {
  int *tag = userdata;
  pthread_mutex_lock(&lock);
  log_messages++;
  if (*tag != 42 || level < FERROSOCKET_LOG_LEVEL_ERROR || level > FERROSOCKET_LOG_LEVEL_DEBUG)
    log_bad_level++;
  if (target.len >= 11 && memcmp(target.data, "ferrosocket", 11) == 0 &&
      memmem(message.data, message.len, "session closed", 14) &&
      memmem(message.data, message.len, "sid=", 4))
    log_session_closed++;
  pthread_mutex_unlock(&lock);
}

/* ---- connect: every header, remote address ----------------------------------------- */

static void on_connect(void *userdata, const ferrosocket_connect_request *request) {
  (void)userdata;
  ferrosocket_str probe = {0};
  if (ferrosocket_connect_request_header(request, FERROSOCKET_STR("x-test"), &probe) !=
      FERROSOCKET_RESULT_OK)
    return; /* only client a sends it */
  size_t n = ferrosocket_connect_request_header_count(request);
  int test = 0, second = 0, host = 0, lower = 1;
  for (size_t i = 0; i < n; i++) {
    ferrosocket_str name = {0}, value = {0};
    CHECK_OK(ferrosocket_connect_request_header_at(request, i, &name, &value));
    for (size_t k = 0; k < name.len; k++)
      if (name.data[k] >= 'A' && name.data[k] <= 'Z') lower = 0;
    if (str_eq(name, "x-test")) test += str_eq(value, "yes");
    if (str_eq(name, "x-second")) second += str_eq(value, "padded");
    if (str_eq(name, "host")) host++;
  }
  ferrosocket_str name = {0}, value = {0};
  CHECK_RC(ferrosocket_connect_request_header_at(request, n, &name, &value),
           FERROSOCKET_RESULT_NOT_FOUND);
  CHECK_RC(ferrosocket_connect_request_header_at(request, 0, NULL, &value),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK(ferrosocket_connect_request_header_count(NULL) == 0);

  char small[4];
  size_t len = 0;
  CHECK_RC(ferrosocket_connect_request_remote_addr(request, small, sizeof small, &len),
           FERROSOCKET_RESULT_BUFFER_TOO_SMALL);
  CHECK(len >= 11);
  char addr[64];
  size_t addr_len = 0;
  CHECK_OK(ferrosocket_connect_request_remote_addr(request, addr, sizeof addr, &addr_len));
  CHECK(addr_len == len && addr[addr_len] == 0);
  pthread_mutex_lock(&lock);
  headers_ok = n >= 3 && test == 1 && second == 1 && host == 1 && lower;
  snprintf(connect_addr, sizeof connect_addr, "%s", addr);
  pthread_mutex_unlock(&lock);
}

/* ---- events ------------------------------------------------------------------------ */

static void on_any(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  CHECK(on_dispatch_thread());
  ferrosocket_str name = ferrosocket_event_name(event);
  ferrosocket_args args = ferrosocket_event_args(event);
  char out[256];
  snprintf(out, sizeof out, "[[\"any\",\"%.*s\",%.*s]]", (int)name.len, name.data,
           (int)args.json_len, args.json);
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(out)));
}

static void on_named(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS("[\"named\"]")));
}

static void on_whoami(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  char addr[64];
  size_t len = 0;
  CHECK_OK(ferrosocket_event_remote_addr(event, addr, sizeof addr, &len));
  char out[256];
  pthread_mutex_lock(&lock);
  snprintf(out, sizeof out, "[[\"%s\",\"%s\",\"%s\"]]", headers_ok ? "headers ok" : "headers bad",
           connect_addr, addr);
  pthread_mutex_unlock(&lock);
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(out)));
}

/* join(["r1","r2"]): the rooms are parsed from the simple JSON the client sends. */
static void on_join(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  ferrosocket_args args = ferrosocket_event_args(event);
  for (size_t i = 0; i + 3 < args.json_len; i++) {
    if (args.json[i] == '"' && args.json[i + 1] == 'r' && args.json[i + 3] == '"') {
      CHECK_OK(ferrosocket_server_join(server, NSP, sid.data, sid.len, args.json + i + 1, 2));
      i += 3;
    }
  }
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS("[\"joined\"]")));
}

/* join_sid_room(other_sid): joining another client's own id room is refused; the ack is
 * the result code's name. */
static void on_join_sid_room(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  ferrosocket_args args = ferrosocket_event_args(event);
  CHECK(args.json_len == 24 && args.json[1] == '"');
  ferrosocket_result rc = ferrosocket_server_join(server, NSP, sid.data, sid.len, args.json + 2, 20);
  char out[64];
  snprintf(out, sizeof out, "[\"%s\"]", ferrosocket_result_name(rc));
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(out)));
}

/* fanout(b_sid): a in r1 r2, b in r2 r3, c in r3. */
static void on_fanout(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_args args = ferrosocket_event_args(event); /* ["<b sid>"] */
  CHECK(args.json_len == 24);
  ferrosocket_str b_sid = {args.json + 2, 20};
  ferrosocket_str r12[2] = {{"r1", 2}, {"r2", 2}};
  ferrosocket_str r123[3] = {{"r1", 2}, {"r2", 2}, {"r3", 2}};
  ferrosocket_str r23[2] = {{"r2", 2}, {"r3", 2}};
  ferrosocket_str except_r3[1] = {{"r3", 2}};
  ferrosocket_str except_b[1] = {b_sid};
  size_t both = 0, except_room = 0, except_sid = 0;
  /* a is in r1 and r2: once. b is in r2: once. c is in neither. */
  CHECK_OK(ferrosocket_server_broadcast(server, NSP, r12, 2, NULL, 0, FERROSOCKET_STR("f"),
                                        FERROSOCKET_JSON_ARGS("[\"both\"]"), &both));
  /* everyone is in one of r1 r2 r3; b and c are in r3: a only. */
  CHECK_OK(ferrosocket_server_broadcast(server, NSP, r123, 3, except_r3, 1, FERROSOCKET_STR("f"),
                                        FERROSOCKET_JSON_ARGS("[\"except-room\"]"),
                                        &except_room));
  /* r2 r3 hold a, b, c; leaving b out by its sid room and a by r1: c only. */
  ferrosocket_str except_b_r1[2] = {except_b[0], {"r1", 2}};
  CHECK_OK(ferrosocket_server_broadcast(server, NSP, r23, 2, except_b_r1, 2, FERROSOCKET_STR("f"),
                                        FERROSOCKET_JSON_ARGS("[\"except-sid\"]"),
                                        &except_sid));
  char out[64];
  snprintf(out, sizeof out, "[[%zu,%zu,%zu]]", both, except_room, except_sid);
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS(out)));
}

/* ask("quickq" | "slowq"): the server asks the client with a 300 ms timeout and reports the
 * outcome back with event "result" [question, result name, reply, on a dispatch thread]. */
/* The ack callback names the client (nsp, sid); the question's name is the only
 * per-call state, and a static string does for it. */
static const char *const questions[] = {"quickq", "slowq"};

static void on_reply(void *userdata, ferrosocket_result result, ferrosocket_str nsp,
                     ferrosocket_str sid, const ferrosocket_args *reply) {
  const char *name = userdata;
  CHECK(reply->nbins == 0 && reply->bins == NULL);
  CHECK(str_eq(nsp, "/") && sid.len == 20);
  /* stop from an ack callback would wait for itself. */
  CHECK_RC(ferrosocket_server_stop(server), FERROSOCKET_RESULT_IN_CALLBACK);
  char out[256];
  size_t n = (size_t)snprintf(out, sizeof out, "[\"%s\",\"%s\",\"", name,
                              ferrosocket_result_name(result));
  for (size_t i = 0; i < reply->json_len && n < sizeof out - 16; i++) {
    if (reply->json[i] == '"' || reply->json[i] == '\\') out[n++] = '\\';
    out[n++] = reply->json[i];
  }
  n += (size_t)snprintf(out + n, sizeof out - n, "\",%s]", on_dispatch_thread() ? "true" : "false");
  CHECK_OK(ferrosocket_server_emit_to_sid(server, nsp.data, nsp.len, sid.data, sid.len,
                                          FERROSOCKET_STR("result"),
                                          &(ferrosocket_args){out, n, NULL, 0}));
}

static void on_ask(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  ferrosocket_args args = ferrosocket_event_args(event); /* ["quickq"] */
  const char *name = NULL;
  for (size_t i = 0; i < sizeof questions / sizeof questions[0]; i++)
    if (args.json_len == strlen(questions[i]) + 4 &&
        memcmp(args.json + 2, questions[i], args.json_len - 4) == 0)
      name = questions[i];
  CHECK(name != NULL);
  if (!name) return;
  CHECK_OK(ferrosocket_server_emit_with_ack(server, NSP, sid.data, sid.len, name, strlen(name),
                                            FERROSOCKET_JSON_ARGS("[\"x\"]"), 300, on_reply,
                                            (void *)name));
}

static void extras(void) {
  static int tag = 42;
  CHECK_RC(ferrosocket_log_set_callback(9, on_log, &tag), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_OK(ferrosocket_log_set_callback(FERROSOCKET_LOG_LEVEL_DEBUG, on_log, &tag));
  server = test_server(4);
  CHECK_OK(ferrosocket_server_on_connect(server, NSP, on_connect, NULL));
  CHECK_OK(ferrosocket_server_on_any(server, NSP, on_any, NULL));
  struct {
    const char *name;
    ferrosocket_event_callback callback;
  } handlers[] = {{"named", on_named}, {"whoami", on_whoami}, {"join", on_join},
                  {"join_sid_room", on_join_sid_room},
                  {"fanout", on_fanout}, {"ask", on_ask}};
  for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
    CHECK_OK(ferrosocket_server_on(server, NSP, FERROSOCKET_STR(handlers[i].name),
                                   handlers[i].callback, NULL));
  }
  int status = wait_client(start_client("extras", start_server(server)));
  CHECK(status == 0);
  CHECK_OK(ferrosocket_server_stop(server));
  ferrosocket_server_free(server);
  server = NULL;
  /* Turned off: the callback is not called after this returns. */
  CHECK_OK(ferrosocket_log_set_callback(FERROSOCKET_LOG_LEVEL_DEBUG, NULL, NULL));
  pthread_mutex_lock(&lock);
  CHECK(log_messages > 0);
  CHECK(log_session_closed > 0);
  CHECK(log_bad_level == 0);
  pthread_mutex_unlock(&lock);
  CHECK_OK(ferrosocket_log_set_stderr(FERROSOCKET_LOG_LEVEL_OFF));
}

/* ---- CANCELLED: the server is freed while an ack is pending ----------------------- */

static int ready, cancelled_calls;
static ferrosocket_result cancelled_result = FERROSOCKET_RESULT_OK;

static void on_cancelled(void *userdata, ferrosocket_result result, ferrosocket_str nsp,
                         ferrosocket_str sid, const ferrosocket_args *reply) {
  (void)userdata;
  CHECK(reply->json_len == 0 && reply->bins == NULL && reply->nbins == 0);
  CHECK(str_eq(nsp, "/") && sid.len == 20);
  pthread_mutex_lock(&lock);
  cancelled_calls++;
  cancelled_result = result;
  pthread_mutex_unlock(&lock);
}

static void on_ready(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  CHECK_OK(ferrosocket_server_emit_with_ack(server, NSP, sid.data, sid.len, FERROSOCKET_STR("hold"),
                                            NULL, 10000, on_cancelled, NULL));
  pthread_mutex_lock(&lock);
  ready = 1;
  pthread_mutex_unlock(&lock);
}

static void cancelled(void) {
  server = test_server(2);
  CHECK_OK(ferrosocket_server_on(server, NSP, FERROSOCKET_STR("ready"), on_ready, NULL));
  pid_t client = start_client("hold", start_server(server));
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&lock);
    int r = ready;
    pthread_mutex_unlock(&lock);
    if (r) break;
    sleep_ms(10);
  }
  CHECK(ready);
  sleep_ms(200); /* the question is on its way; the client sits on it */
  ferrosocket_server *freed = server;
  ferrosocket_server_free(freed);
  /* Called exactly once, before free returned. */
  pthread_mutex_lock(&lock);
  CHECK(cancelled_calls == 1);
  CHECK(cancelled_result == FERROSOCKET_RESULT_CANCELLED);
  pthread_mutex_unlock(&lock);
  server = NULL;
  CHECK(wait_client(client) == 0);
}

int main(void) {
  extras();
  cancelled();
  return finish("test_extras");
}
