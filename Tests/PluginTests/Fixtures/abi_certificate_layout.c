/* Prints, for each event ABI 1.4 gave the client certificate, where the end of its earlier fields
 * lies, where the six certificate fields sit, the struct's size, and what STARLING_HAS_MEMBER says
 * of peer_cert_pem for an event as a 1.3 broker sends it (ending before the fields) and as this
 * header's broker does. HeaderTests checks the numbers. */
#include <starling/plugin.h>

#include <stdio.h>

#define CERTIFICATE_FIELDS(type, last_earlier_field)                                                       \
    do {                                                                                                   \
        type older, current;                                                                               \
        older.struct_size = offsetof(type, peer_cert_dn);                                                  \
        current.struct_size = sizeof current;                                                              \
        printf(#type " earlier-end %zu dn %zu dn_len %zu cn %zu cn_len %zu pem %zu pem_len %zu size %zu"   \
               " older-has %d has %d\n",                                                                   \
               offsetof(type, last_earlier_field) + sizeof current.last_earlier_field,                     \
               offsetof(type, peer_cert_dn), offsetof(type, peer_cert_dn_len), offsetof(type, peer_cert_cn), \
               offsetof(type, peer_cert_cn_len), offsetof(type, peer_cert_pem),                            \
               offsetof(type, peer_cert_pem_len), sizeof(type),                                            \
               (int)STARLING_HAS_MEMBER(&older, type, peer_cert_pem),                                      \
               (int)STARLING_HAS_MEMBER(&current, type, peer_cert_pem));                                   \
    } while (0)

int main(void)
{
    printf("STARLING_PLUGIN_ABI_MINOR %d\n", STARLING_PLUGIN_ABI_MINOR);
    CERTIFICATE_FIELDS(starling_client_connect_event, ticket);
    CERTIFICATE_FIELDS(starling_authenticate_event, ticket);
    CERTIFICATE_FIELDS(starling_authorize_publish_event, peer_address_len);
    CERTIFICATE_FIELDS(starling_authorize_subscribe_event, peer_address_len);
    return 0;
}
