/*
 * The plugin the PluginTests drive: every behaviour is chosen by an option, so one source
 * covers the authenticate, authorize and notification hooks and the host functions. It is also
 * built against the frozen ABI v1 header (Fixtures/abi-v1) to prove old plugins keep working.
 *
 * Options (all optional; a hook is registered only when an option asks for it):
 *   tag                 prefix of every log line (default "test")
 *   priority            priority of every hook (default 0)
 *   users               "name:password,..."   authenticate: ALLOW on a match, DENY (0x86) on a wrong password
 *   ban_users           "name,..."             authenticate: DENY with 0x8A (banned)
 *   auth_result         any integer            authenticate: return it for everyone (IGNORE = 0 ...)
 *   deny_publish        topic prefix           authorize_publish: DENY
 *   allow_publish       topic prefix           authorize_publish: ALLOW
 *   publish_result      integer                authorize_publish: return it for every other topic
 *   deny_subscribe      filter prefix          authorize_subscribe: DENY
 *   subscribe_max_qos   0..2                   authorize_subscribe: lower the QoS
 *   sleep_ms            milliseconds           authorize_publish: sleep on topics "slow/..."
 *   kick_topic          topic                  authorize_publish: kick the publisher
 *   log_peers           any                    authorize_publish / _subscribe: log the client's
 *                                              address (ABI 1.3; "peer unknown" without the field)
 *   log_certs           a directory            client_connect, authenticate, authorize_publish /
 *                                              _subscribe: log the client certificate's CN, DN and
 *                                              PEM length (ABI 1.4; "cert none" without one) and
 *                                              write the PEM to DIR/HOOK-CLIENTID.pem
 *   notify              any                    client_connected / client_disconnected: log them
 *   connect_publish     topic                  client_connected: publish the client id there
 *   init_result         integer                init registers its hooks, then returns this
 *
 * Built with -DTEST_PLUGIN_MINOR=N it exports starling_plugin_abi_minor() returning N.
 */
#include <starling/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct state {
    const starling_host_api *host;
    starling_plugin *plugin;
    const char *tag;
    const char *users, *ban_users, *deny_publish, *allow_publish, *deny_subscribe, *kick_topic;
    const char *connect_publish, *cert_dir;
    int auth_result, publish_result, subscribe_max_qos, log_peers;
    long sleep_ms;
    int late_registration_done;
};

static void say(const struct state *s, const char *format, const char *a, long b, long c)
{
    char line[512];
    char text[400];
    snprintf(text, sizeof text, format, a != NULL ? a : "(null)", b, c);
    snprintf(line, sizeof line, "%s: %s", s->tag, text);
    s->host->log(s->plugin, STARLING_LOG_INFO, line);
}

static int starts_with(const char *text, const char *prefix)
{
    return prefix != NULL && text != NULL && strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Whether the comma-separated `list` holds `item` (`len` bytes) as a whole entry, and if
 * `value` is given, the text after ':' in that entry. */
static int list_find(const char *list, const char *item, size_t len, const char **value)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t entry = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', entry);
        size_t name = colon != NULL ? (size_t)(colon - p) : entry;
        if (name == len && memcmp(p, item, len) == 0) {
            if (value != NULL) {
                *value = colon;
            }
            return 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* Logs the client certificate an event carries (ABI 1.4; the frozen v1 header lacks the fields) and
 * writes its PEM to DIR/HOOK-CLIENTID.pem. */
#if defined(STARLING_PLUGIN_ABI_MINOR) && STARLING_PLUGIN_ABI_MINOR >= 4
static void log_cert(const struct state *s, const char *hook, const char *client_id, const char *dn, size_t dn_len,
                     const char *cn, size_t cn_len, const char *pem, size_t pem_len)
{
    char line[1024], path[1024];
    FILE *file;
    if (dn == NULL && cn == NULL && pem == NULL && dn_len == 0 && cn_len == 0 && pem_len == 0) {
        snprintf(line, sizeof line, "%s: %s %s cert none", s->tag, hook, client_id);
        s->host->log(s->plugin, STARLING_LOG_INFO, line);
        return;
    }
    snprintf(line, sizeof line, "%s: %s %s cert cn %s (%zu) dn %s (%zu) pem %zu", s->tag, hook, client_id,
             cn != NULL ? cn : "(null)", cn_len, dn != NULL ? dn : "(null)", dn_len, pem_len);
    s->host->log(s->plugin, STARLING_LOG_INFO, line);
    snprintf(path, sizeof path, "%s/%s-%s.pem", s->cert_dir, hook, client_id);
    file = fopen(path, "wb");
    if (file != NULL) {
        if (pem != NULL) {
            fwrite(pem, 1, pem_len, file);
        }
        fclose(file);
    }
}

#define LOG_CERT(s, e, type, what)                                                                           \
    do {                                                                                                     \
        if ((s)->cert_dir != NULL && STARLING_HAS_MEMBER(e, type, peer_cert_pem)) {                          \
            log_cert(s, what, (e)->client_id, (e)->peer_cert_dn, (e)->peer_cert_dn_len, (e)->peer_cert_cn,  \
                     (e)->peer_cert_cn_len, (e)->peer_cert_pem, (e)->peer_cert_pem_len);                    \
        }                                                                                                    \
    } while (0)

static int on_client_connect(void *data, void *user)
{
    const starling_client_connect_event *e = data;
    LOG_CERT((const struct state *)user, e, starling_client_connect_event, "client_connect");
    return STARLING_IGNORE;
}
#else
#define LOG_CERT(s, e, type, what) \
    do {                           \
    } while (0)
#endif

static int on_authenticate(void *data, void *user)
{
    starling_authenticate_event *e = data;
    const struct state *s = user;
    const char *entry = NULL;
    say(s, "authenticate %s protocol %ld peer-known %ld", e->client_id, e->protocol_version,
        e->peer_address[0] != '\0');
    LOG_CERT(s, e, starling_authenticate_event, "authenticate");
    if (s->auth_result != -1000) {
        return s->auth_result;
    }
    if (e->username == NULL) {
        return STARLING_IGNORE;
    }
    if (list_find(s->ban_users, e->username, e->username_len, NULL)) {
        e->reason_code = 0x8A;
        return STARLING_DENY;
    }
    if (list_find(s->users, e->username, e->username_len, &entry)) {
        const char *password = entry != NULL ? entry + 1 : "";
        const char *end = strchr(password, ',');
        size_t len = end != NULL ? (size_t)(end - password) : strlen(password);
        if (e->password != NULL && e->password_len == len && memcmp(e->password, password, len) == 0) {
            return STARLING_ALLOW;
        }
        return STARLING_DENY; /* reason_code stays 0x86 */
    }
    return STARLING_IGNORE;
}

/* Logs the address an authorize event carries. The field is of ABI 1.3: this file is also built
 * against the frozen v1 header, which does not declare it, and a broker older than 1.3 sends a
 * shorter event. */
#if defined(STARLING_PLUGIN_ABI_MINOR) && STARLING_PLUGIN_ABI_MINOR >= 3
#define LOG_PEER(s, e, type, what)                                                                  \
    do {                                                                                            \
        if ((s)->log_peers && STARLING_HAS_MEMBER(e, type, peer_address)) {                         \
            say(s, what " peer %s length %ld", (e)->peer_address, (long)(e)->peer_address_len, 0);  \
        } else if ((s)->log_peers) {                                                                \
            say(s, what " peer unknown", "", 0, 0);                                                 \
        }                                                                                           \
    } while (0)
#else
#define LOG_PEER(s, e, type, what)                                                                  \
    do {                                                                                            \
        if ((s)->log_peers) {                                                                       \
            say(s, what " peer unknown", "", 0, 0);                                                 \
        }                                                                                           \
    } while (0)
#endif

static int on_authorize_publish(void *data, void *user)
{
    const starling_authorize_publish_event *e = data;
    const struct state *s = user;
    LOG_PEER(s, e, starling_authorize_publish_event, "authorize_publish");
    LOG_CERT(s, e, starling_authorize_publish_event, "authorize_publish");
    if (s->sleep_ms > 0 && starts_with(e->topic, "slow/")) {
        struct timespec pause;
        pause.tv_sec = s->sleep_ms / 1000;
        pause.tv_nsec = (s->sleep_ms % 1000) * 1000000L;
        say(s, "sleeping in authorize_publish for %s", e->topic, 0, 0);
        nanosleep(&pause, NULL);
        say(s, "slept in authorize_publish for %s", e->topic, 0, 0);
    }
    if (s->kick_topic != NULL && strcmp(e->topic, s->kick_topic) == 0) {
        say(s, "kick %s -> %ld", e->client_id, s->host->kick(s->plugin, e->client_id), 0);
        return STARLING_IGNORE;
    }
    if (starts_with(e->topic, s->deny_publish)) {
        return STARLING_DENY;
    }
    if (starts_with(e->topic, s->allow_publish)) {
        return STARLING_ALLOW;
    }
    return s->publish_result;
}

static int on_authorize_subscribe(void *data, void *user)
{
    starling_authorize_subscribe_event *e = data;
    const struct state *s = user;
    LOG_PEER(s, e, starling_authorize_subscribe_event, "authorize_subscribe");
    LOG_CERT(s, e, starling_authorize_subscribe_event, "authorize_subscribe");
    if (starts_with(e->filter, s->deny_subscribe)) {
        return STARLING_DENY;
    }
    if (s->subscribe_max_qos >= 0 && e->qos > s->subscribe_max_qos) {
        e->qos = s->subscribe_max_qos;
    }
    return STARLING_IGNORE;
}

static int on_connected(void *data, void *user)
{
    const starling_client_connected_event *e = data;
    struct state *s = user;
    say(s, "connected %s protocol %ld keepalive %ld", e->client_id, e->protocol_version, e->keep_alive);
    if (!s->late_registration_done) {
        s->late_registration_done = 1;
        say(s, "late register_hook -> %s %ld", "", s->host->register_hook(s->plugin, STARLING_HOOK_CLIENT_CONNECTED,
                                                                       on_connected, 0, s), 0);
    }
    if (s->connect_publish != NULL) {
        say(s, "publish -> %s %ld", "", s->host->publish(s->plugin, s->connect_publish, e->client_id,
                                                            e->client_id_len, 1, false), 0);
    }
    return 0;
}

static int on_disconnected(void *data, void *user)
{
    const starling_client_disconnected_event *e = data;
    const struct state *s = user;
    say(s, "disconnected %s initiator %ld reason %ld", e->client_id, e->initiator, e->reason_code);
    return 0;
}

static int number(const starling_host_api *host, starling_plugin *plugin, const char *name, int fallback)
{
    const char *text = host->option(plugin, name);
    return text != NULL ? atoi(text) : fallback;
}

#ifdef TEST_PLUGIN_MINOR
STARLING_PLUGIN_EXPORT int starling_plugin_abi_minor(void)
{
    return TEST_PLUGIN_MINOR;
}
#endif

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    struct state *s = calloc(1, sizeof *s);
    int priority;
    size_t i;
    if (s == NULL) {
        return 100;
    }
    s->host = host;
    s->plugin = plugin;
    s->tag = host->option(plugin, "tag") != NULL ? host->option(plugin, "tag") : "test";
    s->users = host->option(plugin, "users");
    s->ban_users = host->option(plugin, "ban_users");
    s->deny_publish = host->option(plugin, "deny_publish");
    s->allow_publish = host->option(plugin, "allow_publish");
    s->deny_subscribe = host->option(plugin, "deny_subscribe");
    s->kick_topic = host->option(plugin, "kick_topic");
    s->connect_publish = host->option(plugin, "connect_publish");
    s->cert_dir = host->option(plugin, "log_certs");
    s->auth_result = number(host, plugin, "auth_result", -1000);
    s->publish_result = number(host, plugin, "publish_result", STARLING_IGNORE);
    s->subscribe_max_qos = number(host, plugin, "subscribe_max_qos", -1);
    s->sleep_ms = number(host, plugin, "sleep_ms", 0);
    s->log_peers = host->option(plugin, "log_peers") != NULL;
    priority = number(host, plugin, "priority", STARLING_PRIORITY_DEFAULT);

    for (i = 0; i < option_count; i++) {
        say(s, "option %s", options[i].key, 0, 0);
    }
    say(s, "init abi %s %ld.%ld", "", host->abi_version, host->abi_minor);
    say(s, "register unknown hook -> %s %ld", "", host->register_hook(plugin, 999, on_connected, 0, s), 0);

    if (s->users != NULL || s->ban_users != NULL || host->option(plugin, "auth_result") != NULL || s->cert_dir != NULL) {
        host->register_hook(plugin, STARLING_HOOK_AUTHENTICATE, on_authenticate, priority, s);
    }
    if (s->deny_publish != NULL || s->allow_publish != NULL || host->option(plugin, "publish_result") != NULL
        || s->sleep_ms > 0 || s->kick_topic != NULL || s->log_peers || s->cert_dir != NULL) {
        host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_PUBLISH, on_authorize_publish, priority, s);
    }
    if (s->deny_subscribe != NULL || s->subscribe_max_qos >= 0 || s->log_peers || s->cert_dir != NULL) {
        host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_SUBSCRIBE, on_authorize_subscribe, priority, s);
    }
#if defined(STARLING_PLUGIN_ABI_MINOR) && STARLING_PLUGIN_ABI_MINOR >= 4
    if (s->cert_dir != NULL) {
        host->register_hook(plugin, STARLING_HOOK_CLIENT_CONNECT, on_client_connect, priority, s);
    }
#endif
    if (host->option(plugin, "notify") != NULL || s->connect_publish != NULL) {
        host->register_hook(plugin, STARLING_HOOK_CLIENT_CONNECTED, on_connected, priority, s);
        host->register_hook(plugin, STARLING_HOOK_CLIENT_DISCONNECTED, on_disconnected, priority, s);
    }
    if (host->option(plugin, "init_result") != NULL) {
        int result = number(host, plugin, "init_result", 0);
        if (result != 0) {
            free(s);
            return result;
        }
    }
    *user_data = s;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    struct state *s = user_data;
    (void)plugin;
    say(s, "cleanup", "", 0, 0);
    free(s);
    return 0;
}
