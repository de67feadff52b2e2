/* Prints the offset of every field and the value of every constant of ABI v1. Built once against
 * the frozen v1 header and once against the current one: the lines must be the same (structs may
 * only grow at their end, so their sizes are not compared). */
#include <starling/plugin.h>

#include <stdio.h>

#define FIELD(type, field) printf(#type "." #field " %zu\n", offsetof(type, field))
#define CONSTANT(name) printf(#name " %d\n", (int)(name))

int main(void)
{
    FIELD(starling_host_api, struct_size);
    FIELD(starling_host_api, abi_version);
    FIELD(starling_host_api, abi_minor);
    FIELD(starling_host_api, broker_version);
    FIELD(starling_host_api, register_hook);
    FIELD(starling_host_api, log);
    FIELD(starling_host_api, option);
    FIELD(starling_host_api, publish);
    FIELD(starling_host_api, kick);
    FIELD(starling_option, key);
    FIELD(starling_option, value);
    FIELD(starling_authenticate_event, struct_size);
    FIELD(starling_authenticate_event, client_id);
    FIELD(starling_authenticate_event, client_id_len);
    FIELD(starling_authenticate_event, username);
    FIELD(starling_authenticate_event, username_len);
    FIELD(starling_authenticate_event, password);
    FIELD(starling_authenticate_event, password_len);
    FIELD(starling_authenticate_event, peer_address);
    FIELD(starling_authenticate_event, protocol_version);
    FIELD(starling_authenticate_event, reason_code);
    FIELD(starling_authenticate_event, reserved);
    FIELD(starling_authorize_publish_event, struct_size);
    FIELD(starling_authorize_publish_event, client_id);
    FIELD(starling_authorize_publish_event, client_id_len);
    FIELD(starling_authorize_publish_event, username);
    FIELD(starling_authorize_publish_event, username_len);
    FIELD(starling_authorize_publish_event, topic);
    FIELD(starling_authorize_publish_event, topic_len);
    FIELD(starling_authorize_publish_event, payload);
    FIELD(starling_authorize_publish_event, payload_len);
    FIELD(starling_authorize_publish_event, qos);
    FIELD(starling_authorize_publish_event, retain);
    FIELD(starling_authorize_publish_event, reserved);
    FIELD(starling_authorize_subscribe_event, struct_size);
    FIELD(starling_authorize_subscribe_event, client_id);
    FIELD(starling_authorize_subscribe_event, client_id_len);
    FIELD(starling_authorize_subscribe_event, username);
    FIELD(starling_authorize_subscribe_event, username_len);
    FIELD(starling_authorize_subscribe_event, filter);
    FIELD(starling_authorize_subscribe_event, filter_len);
    FIELD(starling_authorize_subscribe_event, qos);
    FIELD(starling_authorize_subscribe_event, reserved);
    FIELD(starling_client_connected_event, struct_size);
    FIELD(starling_client_connected_event, client_id);
    FIELD(starling_client_connected_event, client_id_len);
    FIELD(starling_client_connected_event, username);
    FIELD(starling_client_connected_event, username_len);
    FIELD(starling_client_connected_event, peer_address);
    FIELD(starling_client_connected_event, protocol_version);
    FIELD(starling_client_connected_event, keep_alive);
    FIELD(starling_client_connected_event, clean_start);
    FIELD(starling_client_connected_event, session_present);
    FIELD(starling_client_connected_event, reserved);
    FIELD(starling_client_disconnected_event, struct_size);
    FIELD(starling_client_disconnected_event, client_id);
    FIELD(starling_client_disconnected_event, client_id_len);
    FIELD(starling_client_disconnected_event, username);
    FIELD(starling_client_disconnected_event, username_len);
    FIELD(starling_client_disconnected_event, initiator);
    FIELD(starling_client_disconnected_event, reason_code);
    FIELD(starling_client_disconnected_event, reserved);
    CONSTANT(STARLING_PLUGIN_ABI_VERSION);
    CONSTANT(STARLING_OK);
    CONSTANT(STARLING_ERR_INVALID);
    CONSTANT(STARLING_ERR_UNSUPPORTED);
    CONSTANT(STARLING_ERR_STATE);
    CONSTANT(STARLING_ERR_NOT_FOUND);
    CONSTANT(STARLING_IGNORE);
    CONSTANT(STARLING_ALLOW);
    CONSTANT(STARLING_DENY);
    CONSTANT(STARLING_LOG_DEBUG);
    CONSTANT(STARLING_LOG_INFO);
    CONSTANT(STARLING_LOG_NOTICE);
    CONSTANT(STARLING_LOG_WARNING);
    CONSTANT(STARLING_LOG_ERROR);
    CONSTANT(STARLING_MQTT_3_1);
    CONSTANT(STARLING_MQTT_3_1_1);
    CONSTANT(STARLING_MQTT_5);
    CONSTANT(STARLING_PRIORITY_DEFAULT);
    CONSTANT(STARLING_HOOK_AUTHENTICATE);
    CONSTANT(STARLING_HOOK_AUTHORIZE_PUBLISH);
    CONSTANT(STARLING_HOOK_AUTHORIZE_SUBSCRIBE);
    CONSTANT(STARLING_HOOK_CLIENT_CONNECTED);
    CONSTANT(STARLING_HOOK_CLIENT_DISCONNECTED);
    CONSTANT(STARLING_DISCONNECT_BY_CLIENT);
    CONSTANT(STARLING_DISCONNECT_BY_SERVER);
    CONSTANT(STARLING_DISCONNECT_CONNECTION_LOST);
    return 0;
}
