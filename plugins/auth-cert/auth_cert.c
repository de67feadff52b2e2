/*
 * auth-cert: authenticates clients by the TLS certificate they presented and the listener verified
 * (plugin ABI 1.4 passes its subject CN to the authenticate hook).
 *
 * Options:
 *   allow_cns           comma-separated common names: a client whose certificate's CN is one of
 *                       them is allowed ("alice,sensor-gateway"; spaces around a name are ignored)
 *   cn_equals_clientid  true or false (default): allow a client whose CN equals its client id
 *   no_certificate      ignore (default) or deny: a client without a certificate (a TLS client that
 *                       sent none, or one of a listener without TLS) is passed to the next plugin,
 *                       or refused
 * At least one of allow_cns and cn_equals_clientid = true is required. A client whose certificate
 * matches neither is refused: CONNACK 0x87 not authorized (MQTT 3.1.1: return code 5).
 *
 * Build (from the repository root):
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o plugins/auth-cert/auth-cert.so plugins/auth-cert/auth_cert.c
 */
#include <starling/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_AUTHORIZED 0x87

struct auth_cert {
    char *allow_cns; /* our own copy of the option: the option string is the broker's */
    bool cn_equals_clientid;
    bool deny_without_certificate;
};

/* Whether the comma-separated `list` holds the `len` bytes at `name` as one of its entries (spaces
 * around an entry do not count). */
static bool listed(const char *list, const char *name, size_t len)
{
    while (*list != '\0') {
        size_t entry, end;
        list += strspn(list, " ");
        entry = strcspn(list, ",");
        end = entry;
        while (end > 0 && list[end - 1] == ' ') {
            end--;
        }
        if (end > 0 && end == len && memcmp(list, name, len) == 0) {
            return true;
        }
        list += entry;
        list += *list == ',';
    }
    return false;
}

static int on_authenticate(void *event_data, void *user_data)
{
    starling_authenticate_event *event = event_data;
    const struct auth_cert *config = user_data;
    const char *cn;
    size_t cn_len;

    event->reason_code = NOT_AUTHORIZED; /* for every DENY below */
    if (!STARLING_HAS_MEMBER(event, starling_authenticate_event, peer_cert_pem) || event->peer_cert_pem == NULL) {
        return config->deny_without_certificate ? STARLING_DENY : STARLING_IGNORE;
    }
    /* Lengths, not NUL-terminated comparisons: a certificate may put a NUL inside its CN. */
    cn = event->peer_cert_cn;
    cn_len = event->peer_cert_cn_len;
    if (cn != NULL && listed(config->allow_cns, cn, cn_len)) {
        return STARLING_ALLOW;
    }
    if (cn != NULL && config->cn_equals_clientid && cn_len == event->client_id_len
        && memcmp(cn, event->client_id, cn_len) == 0) {
        return STARLING_ALLOW;
    }
    return STARLING_DENY;
}

/* The option's value as a boolean in *out (unset: false); false when it is neither "true" nor "false". */
static bool parse_bool(const char *text, bool *out)
{
    *out = text != NULL && strcmp(text, "true") == 0;
    return text == NULL || *out || strcmp(text, "false") == 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    const char *allow_cns = host->option(plugin, "allow_cns");
    const char *no_certificate = host->option(plugin, "no_certificate");
    struct auth_cert *config;
    bool cn_equals_clientid;
    char line[512];
    size_t i;

    if (host->abi_minor < 4) {
        host->log(plugin, STARLING_LOG_ERROR,
                  "this broker does not pass client certificates to plugins (plugin ABI 1.4): upgrade the broker "
                  "to use auth-cert");
        return 1;
    }
    for (i = 0; i < option_count; i++) {
        if (strcmp(options[i].key, "allow_cns") != 0 && strcmp(options[i].key, "cn_equals_clientid") != 0
            && strcmp(options[i].key, "no_certificate") != 0) {
            snprintf(line, sizeof line, "unknown option %s; known: allow_cns, cn_equals_clientid, no_certificate",
                     options[i].key);
            host->log(plugin, STARLING_LOG_ERROR, line);
            return 2;
        }
    }
    if (!parse_bool(host->option(plugin, "cn_equals_clientid"), &cn_equals_clientid)) {
        host->log(plugin, STARLING_LOG_ERROR, "option cn_equals_clientid must be true or false");
        return 2;
    }
    if (no_certificate != NULL && strcmp(no_certificate, "ignore") != 0 && strcmp(no_certificate, "deny") != 0) {
        host->log(plugin, STARLING_LOG_ERROR, "option no_certificate must be ignore or deny");
        return 2;
    }
    if (allow_cns == NULL) {
        allow_cns = "";
    }
    if (strspn(allow_cns, ", ") == strlen(allow_cns) && !cn_equals_clientid) {
        host->log(plugin, STARLING_LOG_ERROR,
                  "set allow_cns, cn_equals_clientid = true, or both: as configured, no certificate is allowed");
        return 2;
    }

    config = malloc(sizeof *config);
    if (config == NULL) {
        return 3;
    }
    config->allow_cns = malloc(strlen(allow_cns) + 1);
    if (config->allow_cns == NULL) {
        free(config);
        return 3;
    }
    strcpy(config->allow_cns, allow_cns);
    config->cn_equals_clientid = cn_equals_clientid;
    config->deny_without_certificate = no_certificate != NULL && strcmp(no_certificate, "deny") == 0;
    if (host->register_hook(plugin, STARLING_HOOK_AUTHENTICATE, on_authenticate, STARLING_PRIORITY_DEFAULT, config)
        != STARLING_OK) {
        free(config->allow_cns);
        free(config);
        return 4;
    }
    snprintf(line, sizeof line, "allowing CNs [%s]%s; clients without a certificate: %s", config->allow_cns,
             cn_equals_clientid ? " and CN = client id" : "", config->deny_without_certificate ? "deny" : "ignore");
    host->log(plugin, STARLING_LOG_INFO, line);
    *user_data = config;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    struct auth_cert *config = user_data;
    (void)plugin;
    free(config->allow_cns);
    free(config);
    return 0;
}
