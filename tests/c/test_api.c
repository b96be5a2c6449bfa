/* NULL pointers, bad UTF-8, bad JSON, unknown sids and namespaces, small buffers: error
 * codes, never crashes. No client needed. */
#include "harness.h"

static void on_event(void *userdata, const ferrosocket_event *event) {
  (void)userdata;
  (void)event;
}

int main(void) {
  CHECK(strcmp(FERROSOCKET_VERSION, ferrosocket_version()) == 0);
  CHECK(strcmp(ferrosocket_result_name(FERROSOCKET_RESULT_UNKNOWN_SID),
               "FERROSOCKET_RESULT_UNKNOWN_SID") == 0);
  CHECK(strcmp(ferrosocket_result_name(9999), "FERROSOCKET_RESULT_UNKNOWN") == 0);

  /* free(NULL) is a no-op everywhere. */
  ferrosocket_config_free(NULL);
  ferrosocket_server_free(NULL);
  ferrosocket_ack_free(NULL);

  /* Config. */
  CHECK_RC(ferrosocket_config_set_port(NULL, 1), FERROSOCKET_RESULT_NULL_ARGUMENT);
  ferrosocket_config *config = ferrosocket_config_new();
  CHECK_RC(ferrosocket_config_set_ping_interval_ms(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_RC(ferrosocket_config_set_dispatch_threads(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_RC(ferrosocket_config_set_min_dispatch_threads(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_RC(ferrosocket_config_set_dispatch_idle_timeout_ms(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_RC(ferrosocket_config_set_host(config, NULL, 3), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_config_set_host(config, "\xff\xfe", 2), FERROSOCKET_RESULT_INVALID_UTF8);
  CHECK_OK(ferrosocket_config_set_host(config, FERROSOCKET_STR("127.0.0.1")));
  CHECK_OK(ferrosocket_config_set_path(config, FERROSOCKET_STR("/socket.io/")));
  CHECK_OK(ferrosocket_config_set_ping_interval_ms(config, 25000));
  CHECK_OK(ferrosocket_config_set_ping_timeout_ms(config, 20000));
  CHECK_OK(ferrosocket_config_set_connect_timeout_ms(config, 45000));
  CHECK_OK(ferrosocket_config_set_max_payload(config, 1000000));
  CHECK_OK(ferrosocket_config_add_allowed_origin(config, FERROSOCKET_STR("http://a.test")));
  CHECK_OK(ferrosocket_config_allow_any_origin(config));
  CHECK_OK(ferrosocket_config_set_max_connections(config, 100));
  CHECK_OK(ferrosocket_config_set_max_queued_packets(config, 100));
  CHECK_RC(ferrosocket_config_set_max_queued_bytes(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_OK(ferrosocket_config_set_max_queued_bytes(config, 1 << 20));
  CHECK_RC(ferrosocket_config_set_max_queue_age_ms(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_OK(ferrosocket_config_set_max_queue_age_ms(config, 5000));
  CHECK_RC(ferrosocket_config_set_header_timeout_ms(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_OK(ferrosocket_config_set_header_timeout_ms(config, 10000));
  CHECK_RC(ferrosocket_config_set_body_timeout_ms(config, 0), FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_OK(ferrosocket_config_set_body_timeout_ms(config, 10000));
  CHECK_RC(ferrosocket_config_add_allowed_host(config, NULL, 1), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_OK(ferrosocket_config_add_allowed_host(config, FERROSOCKET_STR("127.0.0.1")));
  CHECK_OK(ferrosocket_config_add_allowed_host(config, FERROSOCKET_STR("localhost")));
  CHECK_OK(ferrosocket_config_set_io_threads(config, 1));
  CHECK_OK(ferrosocket_config_set_dispatch_threads(config, 2));
  CHECK_OK(ferrosocket_config_set_min_dispatch_threads(config, 1));
  CHECK_OK(ferrosocket_config_set_dispatch_idle_timeout_ms(config, 500));
  CHECK_OK(ferrosocket_config_set_max_queued_callbacks(config, 10));
  CHECK_OK(ferrosocket_config_set_shutdown_timeout_ms(config, 1000));

  ferrosocket_server *server = NULL;
  CHECK_RC(ferrosocket_server_new(NULL, &server), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_new(config, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_OK(ferrosocket_server_new(config, &server));
  ferrosocket_config_free(config);

  /* The last error describes the latest failure on this thread. */
  CHECK_RC(ferrosocket_server_start(NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  size_t len = 0;
  CHECK_RC(ferrosocket_last_error(NULL, 0, &len), FERROSOCKET_RESULT_BUFFER_TOO_SMALL);
  CHECK(len > 0);
  char message[256];
  CHECK_OK(ferrosocket_last_error(message, sizeof message, &len));
  CHECK(strstr(message, "ferrosocket_server_start") && strstr(message, "NULL"));
  CHECK_RC(ferrosocket_last_error(message, sizeof message, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);

  uint16_t port = 0;
  CHECK_RC(ferrosocket_server_local_port(server, &port), FERROSOCKET_RESULT_INVALID_STATE);
  CHECK_RC(ferrosocket_server_on(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("x"), NULL, NULL),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_on(server, FERROSOCKET_STR(""), FERROSOCKET_STR("x"), on_event, NULL),
           FERROSOCKET_RESULT_INVALID_ARGUMENT);
  CHECK_OK(ferrosocket_server_on_any(server, FERROSOCKET_STR("/admin"), on_event, NULL));
  CHECK_RC(ferrosocket_server_serve_dir(server, FERROSOCKET_STR("/no/such/dir")),
           FERROSOCKET_RESULT_NOT_FOUND);
  CHECK_OK(ferrosocket_server_start(server));
  CHECK_OK(ferrosocket_server_start(server)); /* already started: nothing */
  CHECK_OK(ferrosocket_server_local_port(server, &port));
  CHECK_RC(ferrosocket_server_local_port(server, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);

  const char *nobody = "AAAAAAAAAAAAAAAAAAAA";
  CHECK_RC(ferrosocket_server_emit_to_sid(server, FERROSOCKET_STR("/"), FERROSOCKET_STR(nobody),
                                          FERROSOCKET_STR("e"), NULL),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  CHECK_RC(ferrosocket_server_emit_to_sid(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("short"),
                                          FERROSOCKET_STR("e"), NULL),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  CHECK_RC(ferrosocket_server_emit_to_sid(server, FERROSOCKET_STR("/nope"), FERROSOCKET_STR(nobody),
                                          FERROSOCKET_STR("e"), NULL),
           FERROSOCKET_RESULT_UNKNOWN_NAMESPACE);
  CHECK_RC(ferrosocket_server_join(server, FERROSOCKET_STR("/"), FERROSOCKET_STR(nobody),
                                   FERROSOCKET_STR("r")),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  CHECK_RC(ferrosocket_server_leave(server, FERROSOCKET_STR("/"), FERROSOCKET_STR(nobody),
                                    FERROSOCKET_STR("r")),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  CHECK_RC(ferrosocket_server_disconnect(server, FERROSOCKET_STR("/"), FERROSOCKET_STR(nobody)),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  CHECK_RC(ferrosocket_server_rooms(server, FERROSOCKET_STR("/"), FERROSOCKET_STR(nobody), message,
                                    sizeof message, &len),
           FERROSOCKET_RESULT_UNKNOWN_SID);
  CHECK_RC(ferrosocket_server_emit_with_ack(server, FERROSOCKET_STR("/"), FERROSOCKET_STR(nobody),
                                            FERROSOCKET_STR("e"), NULL, 1000, NULL, NULL),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_OK(ferrosocket_server_close_room(server, FERROSOCKET_STR("/"), FERROSOCKET_STR("r")));

  size_t count = 99;
  const char *bad_json[] = {"[1,", "{}", "nope", "[1]x"};
  for (size_t i = 0; i < 4; i++) {
    CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), NULL, 0, NULL, 0,
                                          FERROSOCKET_STR("e"), FERROSOCKET_JSON_ARGS(bad_json[i]),
                                          &count),
             FERROSOCKET_RESULT_INVALID_JSON);
  }
  CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), NULL, 0, NULL, 0,
                                        FERROSOCKET_STR("e"),
                                        &(ferrosocket_args){"[\"\xff\"]", 4, NULL, 0}, &count),
           FERROSOCKET_RESULT_INVALID_UTF8);
  CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), NULL, 2, NULL, 0,
                                        FERROSOCKET_STR("e"), NULL, &count),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), NULL, 0, NULL, 0,
                                        FERROSOCKET_STR("e"),
                                        &(ferrosocket_args){FERROSOCKET_STR("[]"), NULL, 1}, &count),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), NULL, 0, NULL, 0,
                                        FERROSOCKET_STR("e"),
                                        &(ferrosocket_args){NULL, 3, NULL, 0}, &count),
           FERROSOCKET_RESULT_NULL_ARGUMENT);
  uint8_t byte = 1;
  ferrosocket_bytes bins[1] = {{&byte, 1}};
  ferrosocket_args bad_placeholder = {FERROSOCKET_STR("[{\"_placeholder\":true,\"num\":4}]"),
                                      bins, 1};
  CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), NULL, 0, NULL, 0,
                                        FERROSOCKET_STR("e"), &bad_placeholder, &count),
           FERROSOCKET_RESULT_INVALID_ARGUMENT);
  ferrosocket_str rooms[2] = {{"a", 1}, {NULL, 0}};
  CHECK_RC(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), rooms, 2, NULL, 0,
                                        FERROSOCKET_STR("e"), NULL, &count),
           FERROSOCKET_RESULT_INVALID_ARGUMENT);
  /* JSON NULL/0 with attachments: "[]" plus unreferenced attachments is accepted. */
  CHECK_OK(ferrosocket_server_broadcast(server, FERROSOCKET_STR("/"), rooms, 1, NULL, 0,
                                        FERROSOCKET_STR("e"), &(ferrosocket_args){NULL, 0, bins, 1},
                                        &count));
  CHECK(count == 0);
  CHECK_OK(ferrosocket_server_emit_to_room(server, FERROSOCKET_STR("admin"), FERROSOCKET_STR("r"),
                                           FERROSOCKET_STR("e"), FERROSOCKET_JSON_ARGS("[1]"),
                                           NULL));

  /* The disconnect reasons' numbers and texts. */
  CHECK(FERROSOCKET_DISCONNECT_REASON_TRANSPORT_CLOSE == 4);
  CHECK(strcmp(ferrosocket_disconnect_reason_name(FERROSOCKET_DISCONNECT_REASON_TRANSPORT_CLOSE),
               "transport close") == 0);
  CHECK(strcmp(ferrosocket_disconnect_reason_name(FERROSOCKET_DISCONNECT_REASON_CLIENT_TOO_SLOW),
               "client too slow") == 0);
  CHECK(strcmp(ferrosocket_disconnect_reason_name(0), "unknown") == 0);
  CHECK(strcmp(ferrosocket_disconnect_reason_name(999), "unknown") == 0);

  /* Accessors on NULL are empty, never a crash. */
  CHECK(ferrosocket_event_name(NULL).len == 0 && ferrosocket_event_name(NULL).data == NULL);
  CHECK(ferrosocket_event_binary_count(NULL) == 0);
  ferrosocket_args none = ferrosocket_event_args(NULL);
  CHECK(none.json == NULL && none.json_len == 0 && none.bins == NULL && none.nbins == 0);
  CHECK(!ferrosocket_event_wants_ack(NULL));
  CHECK(ferrosocket_event_take_ack(NULL) == NULL);
  CHECK_RC(ferrosocket_event_ack(NULL, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK_RC(ferrosocket_ack_send(NULL, NULL), FERROSOCKET_RESULT_NULL_ARGUMENT);
  CHECK(ferrosocket_connect_request_sid(NULL).len == 0);
  CHECK_RC(ferrosocket_connect_request_refuse(NULL, NULL, 0, NULL, 0), FERROSOCKET_RESULT_NULL_ARGUMENT);

  CHECK_OK(ferrosocket_server_stop(server));
  CHECK_RC(ferrosocket_server_start(server), FERROSOCKET_RESULT_INVALID_STATE);
  ferrosocket_server_free(server);
  return finish("test_api");
}
