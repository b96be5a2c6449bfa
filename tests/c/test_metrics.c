/* The counters from C: ferrosocket_server_metrics after real HTTP requests on loopback,
 * ferrosocket_server_prometheus into a caller's buffer, the /metrics listener, and the
 * error codes for bad arguments. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"

/* One HTTP/1.0 GET on 127.0.0.1:port; the whole response into buf (NUL-terminated). */
static int http_get(uint16_t port, const char *target, char *buf, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  char request[256];
  int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", target);
  if (write(fd, request, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  size_t len = 0;
  ssize_t got;
  while (len + 1 < cap && (got = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)got;
  buf[len] = 0;
  close(fd);
  return (int)len;
}

int main(void) {
  ferrosocket_config *config = ferrosocket_config_new();
  CHECK_OK(ferrosocket_config_set_port(config, 0));
  ferrosocket_server *server = NULL;
  CHECK_OK(ferrosocket_server_new(config, &server));
  ferrosocket_config_free(config);
  CHECK_OK(ferrosocket_server_start(server));
  uint16_t port = 0;
  CHECK_OK(ferrosocket_server_local_port(server, &port));
  uint16_t metrics_port = 0;
  CHECK_OK(ferrosocket_server_start_metrics(server, FERROSOCKET_STR("127.0.0.1"), 0, &metrics_port));
  CHECK(metrics_port != 0);
  uint16_t again = 0;
  CHECK_OK(ferrosocket_server_start_metrics(server, FERROSOCKET_STR("127.0.0.1"), 0, &again));
  CHECK(again == metrics_port);

  static char response[65536];
  /* A polling handshake (the connection stays open on the server's side: the open
   * packet answered, no close), and one refused for its protocol version. */
  CHECK(http_get(port, "/socket.io/?EIO=4&transport=polling", response, sizeof response) > 0);
  CHECK(strstr(response, "200 OK") != NULL);
  CHECK(http_get(port, "/socket.io/?EIO=3&transport=polling", response, sizeof response) > 0);
  CHECK(strstr(response, "400") != NULL);

  ferrosocket_metrics m;
  memset(&m, 0xff, sizeof m);
  CHECK_OK(ferrosocket_server_metrics(server, &m));
  CHECK(m.size == sizeof m);
  CHECK(m.accepted_polling == 1);
  CHECK(m.connections_polling == 1);
  CHECK(m.connections_websocket == 0);
  CHECK(m.refused_bad_handshake == 1);
  CHECK(m.refused_origin == 0);
  CHECK(m.packets_sent == 1); /* the open packet */
  CHECK(m.events_received == 0);
  CHECK(m.dispatch_threads >= 1);

  /* The same through /metrics, and through the caller's buffer. */
  CHECK(http_get(metrics_port, "/metrics", response, sizeof response) > 0);
  CHECK(strstr(response, "200 OK") != NULL);
  CHECK(strstr(response, "text/plain; version=0.0.4") != NULL);
  CHECK(strstr(response, "\nferrosocket_connections{transport=\"polling\"} 1\n") != NULL);
  CHECK(strstr(response, "\nferrosocket_connections_refused_total{reason=\"bad_handshake\"} 1\n") != NULL);
  CHECK(strstr(response, "\nferrosocket_dispatch_threads ") != NULL);
  CHECK(http_get(metrics_port, "/nothing", response, sizeof response) > 0);
  CHECK(strstr(response, "404") != NULL);

  char small[8];
  size_t len = 0;
  CHECK_RC(ferrosocket_server_prometheus(server, small, sizeof small, &len), FERROSOCKET_RESULT_BUFFER_TOO_SMALL);
  CHECK(len > 1000);
  char *text = malloc(len + 1024);
  CHECK_OK(ferrosocket_server_prometheus(server, text, len + 1024, &len));
  CHECK(strlen(text) == len);
  CHECK(strstr(text, "# TYPE ferrosocket_events_received_total counter\n") != NULL);
  free(text);

  /* Bad arguments: codes, never a crash. */
  CHECK_RC(ferrosocket_server_metrics(NULL, &m), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_metrics(server, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_prometheus(server, small, sizeof small, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_start_metrics(server, NULL, 3, 0, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);

  CHECK_OK(ferrosocket_server_stop(server));
  CHECK_RC(ferrosocket_server_start_metrics(server, FERROSOCKET_STR("127.0.0.1"), 0, NULL),
           FERROSOCKET_RESULT_INVALID_STATE);
  /* The listener goes with the server (its task ends just after stop returns). */
  int gone = 0;
  for (int i = 0; i < 200 && !gone; i++) {
    if (http_get(metrics_port, "/metrics", response, sizeof response) < 0) gone = 1;
    else sleep_ms(10);
  }
  CHECK(gone);
  ferrosocket_server_free(server);
  if (harness_failures == 0) printf("test_metrics: ok\n");
  return harness_failures == 0 ? 0 : 1;
}
