/* Two C servers in one Redis fleet (ferrosocket_config_set_redis) and a C emitter
 * (ferrosocket_emitter_*), on a redis-server this test starts on a free port and stops:
 * a python-socketio client on server B joins room "r"; broadcasts from server A and
 * from the emitter reach it through Redis. Bad arguments get error codes. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "harness.h"

static atomic_int joined;

static void on_join(void *userdata, const ferrosocket_event *event) {
  const ferrosocket_server *server = userdata;
  ferrosocket_str sid = ferrosocket_event_sid(event);
  CHECK_OK(ferrosocket_server_join(server, FERROSOCKET_STR("/"), sid.data, sid.len,
                                   FERROSOCKET_STR("r")));
  CHECK_OK(ferrosocket_event_ack(event, FERROSOCKET_JSON_ARGS("[\"ok\"]")));
  atomic_store(&joined, 1);
}

static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

static pid_t start_redis(uint16_t port) {
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
  char *argv[] = {"redis-server", "--port", port_text, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--loglevel", "warning", NULL};
  pid_t pid;
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawnp(&pid, "redis-server", &quiet, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (rc != 0) {
    fprintf(stderr, "posix_spawnp redis-server: %s (tests/lib/env.sh ensure_redis installs it)\n",
            strerror(rc));
    exit(2);
  }
  for (int i = 0; i < 500; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    if (ok) return pid;
    sleep_ms(10);
  }
  fprintf(stderr, "redis-server did not listen\n");
  exit(2);
}

static ferrosocket_server *fleet_server(const char *url) {
  ferrosocket_config *config = ferrosocket_config_new();
  CHECK_OK(ferrosocket_config_set_io_threads(config, 1));
  CHECK_OK(ferrosocket_config_set_shutdown_timeout_ms(config, 3000));
  CHECK_OK(ferrosocket_config_set_redis(config, url, strlen(url), "c-fleet", 7,
                                        FERROSOCKET_REDIS_FORMAT_SOCKET_IO, false));
  ferrosocket_server *server = NULL;
  CHECK_OK(ferrosocket_server_new(config, &server));
  ferrosocket_config_free(config);
  CHECK(server != NULL);
  return server;
}

int main(void) {
  uint16_t redis_port = free_port();
  pid_t redis = start_redis(redis_port);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u/0", (unsigned)redis_port);

  /* Bad arguments: error codes, nothing else. */
  ferrosocket_config *config = ferrosocket_config_new();
  CHECK_RC(ferrosocket_config_set_redis(config, url, strlen(url), NULL, 0, 7, false),
           FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_RC(ferrosocket_config_set_redis(config, NULL, 3, NULL, 0, 0, false),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_OK(ferrosocket_config_set_redis(config, "http://x", 8, NULL, 0, 0, false));
  ferrosocket_server *bad = NULL;
  CHECK_RC(ferrosocket_server_new(config, &bad), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  ferrosocket_config_free(config);
  ferrosocket_emitter *nowhere = NULL;
  CHECK_RC(ferrosocket_emitter_new("redis://127.0.0.1:1/0", 21, NULL, 0, 0, false, 200, &nowhere),
           FERROSOCKET_RESULT_TIMEOUT);
  CHECK(nowhere == NULL);

  ferrosocket_server *a = fleet_server(url);
  ferrosocket_server *b = fleet_server(url);
  CHECK_OK(ferrosocket_server_on(b, FERROSOCKET_STR("/"), FERROSOCKET_STR("join"), on_join, b));
  start_server(a);
  uint16_t port_b = start_server(b);
  ferrosocket_emitter *emitter = NULL;
  CHECK_OK(ferrosocket_emitter_new(url, strlen(url), "c-fleet", 7,
                                   FERROSOCKET_REDIS_FORMAT_SOCKET_IO, false, 5000, &emitter));
  CHECK(emitter != NULL);

  pid_t client = start_client("fleet", port_b);
  /* Until the client has both events (it exits then), server A and the emitter keep
   * sending: subscriptions are made in the background. */
  int status = -1;
  double deadline = now_seconds() + 20;
  ferrosocket_str rooms[] = {{.data = "r", .len = 1}};
  while (now_seconds() < deadline) {
    if (atomic_load(&joined)) {
      size_t count = 99;
      CHECK_OK(ferrosocket_server_broadcast(a, FERROSOCKET_STR("/"), rooms, 1, NULL, 0,
                                            FERROSOCKET_STR("fleet"),
                                            FERROSOCKET_JSON_ARGS("[\"from A\"]"), &count));
      CHECK(count == 0); /* no client of A is in the room */
      CHECK_OK(ferrosocket_emitter_emit(emitter, FERROSOCKET_STR("/"), rooms, 1, NULL, 0,
                                        FERROSOCKET_STR("emitted"),
                                        FERROSOCKET_JSON_ARGS("[{\"n\":1}]")));
    }
    int wstatus = 0;
    pid_t done = waitpid(client, &wstatus, WNOHANG);
    if (done == client) {
      status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
      break;
    }
    sleep_ms(100);
  }
  if (status == -1) {
    kill(client, SIGKILL);
    wait_client(client);
  }
  CHECK(status == 0);
  CHECK_OK(ferrosocket_emitter_close_room(emitter, FERROSOCKET_STR("/"), FERROSOCKET_STR("r")));
  CHECK_OK(ferrosocket_emitter_flush(emitter, 5000));

  ferrosocket_emitter_free(emitter);
  ferrosocket_emitter_free(NULL);
  CHECK_OK(ferrosocket_server_stop(a));
  CHECK_OK(ferrosocket_server_stop(b));
  ferrosocket_server_free(a);
  ferrosocket_server_free(b);
  kill(redis, SIGTERM);
  waitpid(redis, NULL, 0);
  return finish("test_redis");
}
