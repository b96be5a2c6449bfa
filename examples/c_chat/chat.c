/* The ferrosocket chat example in C: the same events, validation and page as
 * examples/chat (Rust), over the C ABI in include/ferrosocket.h.
 *
 *   make -C examples/c_chat run        (or see ffi/README.md for the one-line gcc)
 *   ./chat --host 127.0.0.1 --port 5000 --static examples/chat/static [--cors ORIGIN]
 *
 * Events: join {username, room} -> ack {ok, room, members}, the room gets status;
 * message {text} -> the room gets message {room, username, text, ts}, ack {ok};
 * leave {} and disconnecting -> the room gets status. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "ferrosocket.h"

#define NSP FERROSOCKET_STR("/")

/* ---- a growable text buffer and JSON output ------------------------------------- */

typedef struct {
  char *data;
  size_t len, cap;
} buf;

static void buf_put(buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 128;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) abort();
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

static void buf_puts(buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* A buffer holding a JSON array, as event arguments without attachments. */
static ferrosocket_args buf_args(const buf *b) {
  return (ferrosocket_args){b->data, b->len, NULL, 0};
}

static void buf_json_string(buf *b, const char *s) {
  buf_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\', esc[1] = (char)*p;
      buf_put(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      buf_puts(b, esc);
    } else {
      buf_put(b, (const char *)p, 1);
    }
  }
  buf_puts(b, "\"");
}

/* ---- reading string fields of the first argument (a JSON object) ------------------ */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static void put_utf8(buf *out, unsigned long c) {
  char u[4];
  if (c < 0x80) { u[0] = (char)c; buf_put(out, u, 1); }
  else if (c < 0x800) { u[0] = (char)(0xc0 | (c >> 6)); u[1] = (char)(0x80 | (c & 0x3f)); buf_put(out, u, 2); }
  else if (c < 0x10000) { u[0] = (char)(0xe0 | (c >> 12)); u[1] = (char)(0x80 | ((c >> 6) & 0x3f)); u[2] = (char)(0x80 | (c & 0x3f)); buf_put(out, u, 3); }
  else { u[0] = (char)(0xf0 | (c >> 18)); u[1] = (char)(0x80 | ((c >> 12) & 0x3f)); u[2] = (char)(0x80 | ((c >> 6) & 0x3f)); u[3] = (char)(0x80 | (c & 0x3f)); buf_put(out, u, 4); }
}

/* Parses a JSON string at p (on the opening quote); decoded into out when out != NULL.
 * The library validated the JSON already, so escapes are well-formed. */
static const char *read_string(const char *p, const char *end, buf *out) {
  for (p++; p < end && *p != '"'; p++) {
    if (*p != '\\') { if (out) buf_put(out, p, 1); continue; }
    p++;
    char c = *p;
    if (c == 'u') {
      unsigned long code = strtoul((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
      p += 4;
      if (code >= 0xd800 && code < 0xdc00 && p + 6 < end && p[1] == '\\' && p[2] == 'u') {
        unsigned long low = strtoul((char[]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        p += 6;
      }
      if (out) put_utf8(out, code);
    } else if (out) {
      const char *plain = strchr("\"\\/bfnrt", c);
      const char *real = "\"\\/\b\f\n\r\t";
      char decoded = plain ? real[plain - "\"\\/bfnrt"] : c;
      buf_put(out, &decoded, 1);
    }
  }
  return p + 1;
}

/* Skips one JSON value. */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  for (; p < end; p++) {
    if (*p == '"') { p = read_string(p, end, NULL) - 1; if (!depth) return p + 1; continue; }
    if (*p == '{' || *p == '[') depth++;
    else if (*p == '}' || *p == ']') { if (!depth) return p; if (!--depth) return p + 1; }
    else if (!depth && *p == ',') return p;
  }
  return p;
}

enum field_state { FIELD_MISSING, FIELD_NOT_STRING, FIELD_STRING };

typedef struct {
  int is_object;
  const char *names[2];
  enum field_state state[2];
  buf value[2];
} fields;

/* Reads fields names[0..1] of the first argument of an event's JSON array. */
static void read_fields(ferrosocket_args args, fields *f) {
  const char *p = args.json, *end = args.json + args.json_len;
  p = skip_ws(p, end);
  if (p < end && *p == '[') p = skip_ws(p + 1, end);
  f->is_object = p < end && *p == '{';
  if (!f->is_object) return;
  p = skip_ws(p + 1, end);
  while (p < end && *p == '"') {
    buf key = {0};
    p = skip_ws(read_string(p, end, &key), end) + 1; /* past ':' */
    p = skip_ws(p, end);
    int which = -1;
    for (int i = 0; i < 2; i++)
      if (f->names[i] && key.data && strcmp(key.data, f->names[i]) == 0) which = i;
    free(key.data);
    if (which >= 0 && *p == '"') {
      f->value[which].len = 0;
      buf_puts(&f->value[which], "");
      p = read_string(p, end, &f->value[which]);
      f->state[which] = FIELD_STRING;
    } else {
      if (which >= 0) f->state[which] = FIELD_NOT_STRING;
      p = skip_value(p, end);
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') p = skip_ws(p + 1, end);
  }
}

static void free_fields(fields *f) {
  free(f->value[0].data);
  free(f->value[1].data);
}

static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

static int is_blank(const char *s) {
  for (; *s; s++) if (!strchr(" \t\n\r\f\v", *s)) return 0;
  return 1;
}

/* A string field of 1..max characters (trimmed if asked), or the error text. */
static char *field(fields *f, int i, size_t max, int trim, char *error, size_t error_len) {
  const char *name = f->names[i];
  if (f->state[i] == FIELD_MISSING) { snprintf(error, error_len, "%s is required", name); return NULL; }
  if (f->state[i] == FIELD_NOT_STRING) { snprintf(error, error_len, "%s must be a string", name); return NULL; }
  char *text = f->value[i].data;
  if (trim) {
    while (*text && strchr(" \t\n\r\f\v", *text)) text++;
    size_t n = strlen(text);
    while (n && strchr(" \t\n\r\f\v", text[n - 1])) text[--n] = 0;
  }
  size_t length = utf8_chars(text);
  if (length == 0 || length > max || is_blank(text)) {
    snprintf(error, error_len, "%s must be 1 to %zu characters", name, max);
    return NULL;
  }
  return strdup(text);
}

/* ---- who is where ----------------------------------------------------------------- */

typedef struct {
  char sid[21];
  char *username, *room;
} member;

static pthread_mutex_t chat_lock = PTHREAD_MUTEX_INITIALIZER;
static member *members;
static size_t member_count;
static ferrosocket_server *server;

static member *find_member(ferrosocket_str sid) {
  for (size_t i = 0; i < member_count; i++)
    if (sid.len == 20 && memcmp(members[i].sid, sid.data, 20) == 0) return &members[i];
  return NULL;
}

/* Removes the member of `sid` (chat_lock held); the caller frees the returned fields. */
static int take_member(ferrosocket_str sid, member *out) {
  member *m = find_member(sid);
  if (!m) return 0;
  *out = *m;
  *m = members[--member_count];
  return 1;
}

static void emit_status(const char *room, const char *text) {
  buf b = {0};
  buf_puts(&b, "[{\"room\":");
  buf_json_string(&b, room);
  buf_puts(&b, ",\"text\":");
  buf_json_string(&b, text);
  buf_puts(&b, "}]");
  ferrosocket_args args = buf_args(&b);
  ferrosocket_server_emit_to_room(server, NSP, FERROSOCKET_STR(room), FERROSOCKET_STR("status"),
                                  &args, NULL);
  free(b.data);
}

static void announce_left(ferrosocket_str sid, member *m, int leave_room) {
  if (leave_room)
    ferrosocket_server_leave(server, NSP, sid.data, sid.len, FERROSOCKET_STR(m->room));
  char *text = NULL;
  if (asprintf(&text, "%s left", m->username) < 0) abort();
  emit_status(m->room, text);
  free(text);
  free(m->username);
  free(m->room);
}

static void ack_failure(const ferrosocket_event *event, const char *error) {
  buf b = {0};
  buf_puts(&b, "[{\"ok\":false,\"error\":");
  buf_json_string(&b, error);
  buf_puts(&b, "}]");
  ferrosocket_args args = buf_args(&b);
  ferrosocket_event_ack(event, &args);
  free(b.data);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- events --------------------------------------------------------------------------- */

static void on_join(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  fields f = {.names = {"username", "room"}};
  read_fields(ferrosocket_event_args(event), &f);
  char error[64];
  char *username = NULL, *room = NULL;
  if (!f.is_object) {
    ack_failure(event, "expected {username, room}");
  } else if (!(username = field(&f, 0, 32, 1, error, sizeof error)) ||
             !(room = field(&f, 1, 64, 1, error, sizeof error))) {
    ack_failure(event, error);
  } else {
    ferrosocket_str sid = ferrosocket_event_sid(event);
    member previous;
    buf ack = {0};
    pthread_mutex_lock(&chat_lock);
    int had = take_member(sid, &previous);
    member *grown = realloc(members, (member_count + 1) * sizeof *members);
    if (!grown) abort();
    members = grown;
    member *m = &members[member_count++];
    memcpy(m->sid, sid.data, 20);
    m->sid[20] = 0;
    m->username = strdup(username);
    m->room = strdup(room);
    char **names = malloc(member_count * sizeof *names);
    size_t n = 0;
    for (size_t i = 0; i < member_count; i++)
      if (strcmp(members[i].room, room) == 0) names[n++] = members[i].username;
    qsort(names, n, sizeof *names, by_name);
    buf_puts(&ack, "[{\"ok\":true,\"room\":");
    buf_json_string(&ack, room);
    buf_puts(&ack, ",\"members\":[");
    for (size_t i = 0; i < n; i++) {
      if (i) buf_puts(&ack, ",");
      buf_json_string(&ack, names[i]);
    }
    buf_puts(&ack, "]}]");
    free(names);
    pthread_mutex_unlock(&chat_lock);
    if (had) announce_left(sid, &previous, 1);
    ferrosocket_server_join(server, NSP, sid.data, sid.len, FERROSOCKET_STR(room));
    ferrosocket_args ack_args = buf_args(&ack);
    ferrosocket_event_ack(event, &ack_args);
    free(ack.data);
    char *text = NULL;
    if (asprintf(&text, "%s joined", username) < 0) abort();
    emit_status(room, text);
    free(text);
  }
  free(username);
  free(room);
  free_fields(&f);
}

static void on_message(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  char *username = NULL, *room = NULL;
  pthread_mutex_lock(&chat_lock);
  member *m = find_member(sid);
  if (m) {
    username = strdup(m->username);
    room = strdup(m->room);
  }
  pthread_mutex_unlock(&chat_lock);
  if (!m) {
    ack_failure(event, "join a room first");
    return;
  }
  fields f = {.names = {"text", NULL}};
  read_fields(ferrosocket_event_args(event), &f);
  char error[64];
  char *text = NULL;
  if (!f.is_object) {
    ack_failure(event, "expected {text}");
  } else if (!(text = field(&f, 0, 2000, 0, error, sizeof error))) {
    ack_failure(event, error);
  } else {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    buf b = {0};
    buf_puts(&b, "[{\"room\":");
    buf_json_string(&b, room);
    buf_puts(&b, ",\"username\":");
    buf_json_string(&b, username);
    buf_puts(&b, ",\"text\":");
    buf_json_string(&b, text);
    buf_puts(&b, ",\"ts\":");
    buf_puts(&b, ts);
    buf_puts(&b, "}]");
    ferrosocket_args args = buf_args(&b);
    ferrosocket_server_emit_to_room(server, NSP, FERROSOCKET_STR(room), FERROSOCKET_STR("message"),
                                    &args, NULL);
    free(b.data);
    ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS("[{\"ok\":true}]"));
  }
  free(text);
  free(username);
  free(room);
  free_fields(&f);
}

static void on_leave(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  member left;
  pthread_mutex_lock(&chat_lock);
  int had = take_member(sid, &left);
  pthread_mutex_unlock(&chat_lock);
  if (had) announce_left(sid, &left, 1);
  ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS("[{\"ok\":true}]"));
}

static void on_disconnect(void *userdata, ferrosocket_str nsp, ferrosocket_str sid,
                          ferrosocket_disconnect_reason reason) {
  (void)userdata;
  (void)nsp;
  (void)reason;
  member left;
  pthread_mutex_lock(&chat_lock);
  int had = take_member(sid, &left);
  pthread_mutex_unlock(&chat_lock);
  if (had) announce_left(sid, &left, 0);
}

/* ---- main ----------------------------------------------------------------------------- */

static int fail(const char *what, ferrosocket_result rc) {
  char message[512];
  size_t len = 0;
  ferrosocket_last_error(message, sizeof message, &len);
  fprintf(stderr, "chat: %s: %s (%s)\n", what, message, ferrosocket_result_name(rc));
  return 1;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *static_dir = "examples/chat/static";
  int port = 5000;
  ferrosocket_config *config = ferrosocket_config_new();
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) { fprintf(stderr, "chat: %s needs a value\n", argv[i]); return 2; }
    const char *value = argv[++i];
    if (!strcmp(argv[i - 1], "--host")) host = value;
    else if (!strcmp(argv[i - 1], "--port")) port = atoi(value);
    else if (!strcmp(argv[i - 1], "--static")) static_dir = value;
    else if (!strcmp(argv[i - 1], "--cors")) {
      if (!strcmp(value, "*")) ferrosocket_config_allow_any_origin(config);
      else ferrosocket_config_add_allowed_origin(config, FERROSOCKET_STR(value));
    } else {
      fprintf(stderr, "chat: unknown option %s (options: --host, --port, --static, --cors)\n", argv[i - 1]);
      return 2;
    }
  }
  ferrosocket_config_set_host(config, FERROSOCKET_STR(host));
  ferrosocket_config_set_port(config, (uint16_t)port);

  /* Block SIGINT/SIGTERM before the server's threads start, so they inherit the mask
   * and main receives the signal with sigwait. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);

  ferrosocket_result rc = ferrosocket_server_new(config, &server);
  ferrosocket_config_free(config);
  if (rc != FERROSOCKET_RESULT_OK) return fail("creating the server", rc);
  ferrosocket_server_on(server, NSP, FERROSOCKET_STR("join"), on_join, NULL);
  ferrosocket_server_on(server, NSP, FERROSOCKET_STR("message"), on_message, NULL);
  ferrosocket_server_on(server, NSP, FERROSOCKET_STR("leave"), on_leave, NULL);
  ferrosocket_server_on_disconnect(server, NSP, on_disconnect, NULL);
  if ((rc = ferrosocket_server_serve_dir(server, FERROSOCKET_STR(static_dir))) != FERROSOCKET_RESULT_OK)
    return fail("serving the page", rc);
  if ((rc = ferrosocket_server_start(server)) != FERROSOCKET_RESULT_OK) return fail("listening", rc);
  uint16_t bound = 0;
  ferrosocket_server_local_port(server, &bound);
  printf("LISTENING %s:%u\n", host, (unsigned)bound);
  fflush(stdout);
  fprintf(stderr, "chat: open http://%s:%u/ in two browser windows (Ctrl-C to stop)\n", host, (unsigned)bound);

  int sig = 0;
  sigwait(&signals, &sig);
  ferrosocket_server_stop(server);
  ferrosocket_server_free(server);
  for (size_t i = 0; i < member_count; i++) {
    free(members[i].username);
    free(members[i].room);
  }
  free(members);
  return 0;
}
