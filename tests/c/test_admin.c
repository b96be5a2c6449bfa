/* The Admin UI from C: ferrosocket_server_instrument's argument checks and error codes,
 * then a real admin client (client.py admin: python-socketio on /admin, with the UI's
 * login) that sees config, all_sockets, a socket connecting, a join it commands and
 * server_stats; uninstrument refuses new admin logins, and the server can be
 * instrumented again. */
#include "harness.h"

int main(void) {
  ferrosocket_server *server = test_server(2);
  ferrosocket_admin_options options;
  CHECK_RC(ferrosocket_admin_options_init(NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_OK(ferrosocket_admin_options_init(&options));
  CHECK(options.size == sizeof options);
  CHECK(options.stats_interval_ms == 2000);
  CHECK(options.mode == FERROSOCKET_ADMIN_MODE_DEVELOPMENT);

  /* No login and not no_auth: refused, as python-socketio refuses auth=None. */
  CHECK_RC(ferrosocket_server_instrument(server, &options), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_RC(ferrosocket_server_instrument(server, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_instrument(NULL, &options), FERROSOCKET_RESULT_NULL_ARGUMENT);
  options.username = FERROSOCKET_STR_VALUE("admin");
  options.password = FERROSOCKET_STR_VALUE("s3cret");
  options.mode = 7;
  CHECK_RC(ferrosocket_server_instrument(server, &options), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  options.mode = FERROSOCKET_ADMIN_MODE_DEVELOPMENT;
  options.stats_interval_ms = 10;
  CHECK_RC(ferrosocket_server_instrument(server, &options), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  options.stats_interval_ms = 300;
  options.admin_namespace = FERROSOCKET_STR_VALUE("/");
  CHECK_RC(ferrosocket_server_instrument(server, &options), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  options.admin_namespace = FERROSOCKET_STR_VALUE("admin");
  options.server_id = FERROSOCKET_STR_VALUE("c-server");
  ferrosocket_admin_options old = options;
  old.size = sizeof old - 8;
  CHECK_RC(ferrosocket_server_instrument(server, &old), FERROSOCKET_RESULT_INVALID_ARGUMENT);

  CHECK_OK(ferrosocket_server_instrument(server, &options));
  CHECK_RC(ferrosocket_server_instrument(server, &options), FERROSOCKET_RESULT_INVALID_STATE);
  uint16_t port = start_server(server);
  CHECK(wait_client(start_client("admin", port)) == 0);

  /* Off: a login is refused; on again, it is taken (client.py admin-again). */
  CHECK_OK(ferrosocket_server_uninstrument(server));
  CHECK_OK(ferrosocket_server_uninstrument(server));
  CHECK(wait_client(start_client("admin-off", port)) == 0);
  CHECK_OK(ferrosocket_server_instrument(server, &options));
  CHECK(wait_client(start_client("admin-again", port)) == 0);

  ferrosocket_server_free(server);
  return finish("test_admin");
}
