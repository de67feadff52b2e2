/*
 * A plugin that answers PENDING and gives its answers later from threads of its own, as an
 * authentication service client would. Drives the PluginTests of asynchronous decisions.
 *
 * Options:
 *   pending      comma list of hooks answered PENDING: client_connect, authenticate,
 *                authorize_publish, authorize_subscribe (each listed hook is registered)
 *   delay_ms     how long a worker thread waits before it completes (default 200)
 *   late_ms      the delay for a "late" answer (default 1500)
 *   inside       "1": complete from inside the callback, before returning PENDING; "2": the
 *                same, then return the decision itself instead of PENDING (a plugin bug)
 *   subscribe_qos  the QoS value an allowed subscription is completed with (default -1)
 *
 * What is answered, by name:
 *   client_connect      client id "deny..." -> DENY 0x8A (banned); else ALLOW
 *   authenticate        user "deny..." -> DENY (0: preset 0x86); "never..." -> never completed;
 *                       "ignore..." -> IGNORE; "late..." -> ALLOW after late_ms; else ALLOW
 *   authorize_publish   topic "deny/..." -> DENY; "never/..." -> never; "sync/..." -> ALLOW at
 *                       once, not pending; else ALLOW
 *   authorize_subscribe filter "deny/..." -> DENY; else ALLOW with subscribe_qos
 * Every completion is logged as "complete HOOK -> RESULT".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <starling/plugin.h>

#include "workers.h"

typedef struct state {
    starling_plugin *plugin;
    const starling_host_api *host;
    int delay_ms;
    int late_ms;
    int inside;
    int subscribe_qos;
    workers workers;
} state;

typedef struct job {
    state *s;
    uint64_t ticket;
    int32_t decision;
    int32_t value;
    int delay_ms;
    const char *hook;
} job;

static int starts_with(const char *text, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return text != NULL && len >= n && memcmp(text, prefix, n) == 0;
}

static void finish(job *j)
{
    char line[128];
    int rc = j->s->host->complete(j->s->plugin, j->ticket, j->decision, j->value);
    snprintf(line, sizeof line, "complete %s -> %d", j->hook, rc);
    j->s->host->log(j->s->plugin, STARLING_LOG_INFO, line);
}

static void *worker(void *arg)
{
    job *j = arg;
    state *s = j->s;
    sleep_ms(j->delay_ms);
    finish(j);
    free(j);
    workers_done(&s->workers);
    return NULL;
}

/* Answers PENDING and completes later with decision/value (never when delay < 0). */
static int later(state *s, uint64_t ticket, const char *hook, int32_t decision, int32_t value, int delay_ms)
{
    job *j;
    if (ticket == 0) return decision;
    if (delay_ms < 0) return STARLING_PENDING;
    j = malloc(sizeof *j);
    if (j == NULL) return STARLING_DENY;
    j->s = s;
    j->ticket = ticket;
    j->decision = decision;
    j->value = value;
    j->delay_ms = delay_ms;
    j->hook = hook;
    if (s->inside) {
        finish(j);
        free(j);
        return s->inside == 2 ? decision : STARLING_PENDING;
    }
    if (workers_spawn(&s->workers, worker, j) != 0) {
        free(j);
        return STARLING_DENY;
    }
    return STARLING_PENDING;
}

static int on_client_connect(void *data, void *user)
{
    starling_client_connect_event *e = data;
    state *s = user;
    if (starts_with(e->client_id, e->client_id_len, "deny"))
        return later(s, e->ticket, "client_connect", STARLING_DENY, 0x8A, s->delay_ms);
    return later(s, e->ticket, "client_connect", STARLING_ALLOW, 0, s->delay_ms);
}

static int on_authenticate(void *data, void *user)
{
    starling_authenticate_event *e = data;
    state *s = user;
    if (starts_with(e->username, e->username_len, "deny"))
        return later(s, e->ticket, "authenticate", STARLING_DENY, 0, s->delay_ms);
    if (starts_with(e->username, e->username_len, "never"))
        return later(s, e->ticket, "authenticate", STARLING_DENY, 0, -1);
    if (starts_with(e->username, e->username_len, "ignore"))
        return later(s, e->ticket, "authenticate", STARLING_IGNORE, 0, s->delay_ms);
    if (starts_with(e->username, e->username_len, "late"))
        return later(s, e->ticket, "authenticate", STARLING_ALLOW, 0, s->late_ms);
    return later(s, e->ticket, "authenticate", STARLING_ALLOW, 0, s->delay_ms);
}

static int on_authorize_publish(void *data, void *user)
{
    starling_authorize_publish_event *e = data;
    state *s = user;
    if (starts_with(e->topic, e->topic_len, "sync/")) return STARLING_ALLOW;
    if (starts_with(e->topic, e->topic_len, "deny/"))
        return later(s, e->ticket, "authorize_publish", STARLING_DENY, 0, s->delay_ms);
    if (starts_with(e->topic, e->topic_len, "never/"))
        return later(s, e->ticket, "authorize_publish", STARLING_DENY, 0, -1);
    return later(s, e->ticket, "authorize_publish", STARLING_ALLOW, 0, s->delay_ms);
}

static int on_authorize_subscribe(void *data, void *user)
{
    starling_authorize_subscribe_event *e = data;
    state *s = user;
    if (starts_with(e->filter, e->filter_len, "deny/"))
        return later(s, e->ticket, "authorize_subscribe", STARLING_DENY, 0, s->delay_ms);
    return later(s, e->ticket, "authorize_subscribe", STARLING_ALLOW, s->subscribe_qos, s->delay_ms);
}

static int number(const starling_host_api *host, starling_plugin *plugin, const char *name, int fallback)
{
    const char *text = host->option(plugin, name);
    return text != NULL ? atoi(text) : fallback;
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

/* Declares ABI 1.2: without it authenticate and authorize_* could not answer PENDING. */
STARLING_PLUGIN_EXPORT int starling_plugin_abi_minor(void)
{
    return STARLING_PLUGIN_ABI_MINOR;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    state *s;
    const char *pending = host->option(plugin, "pending");
    (void)options;
    (void)option_count;
    if (!STARLING_HAS_MEMBER(host, starling_host_api, complete)) return 1;
    s = calloc(1, sizeof *s);
    if (s == NULL) return 1;
    s->plugin = plugin;
    s->host = host;
    s->delay_ms = number(host, plugin, "delay_ms", 200);
    s->late_ms = number(host, plugin, "late_ms", 1500);
    s->inside = number(host, plugin, "inside", 0);
    s->subscribe_qos = number(host, plugin, "subscribe_qos", -1);
    workers_init(&s->workers);
    if (pending == NULL) pending = "";
    if (strstr(pending, "client_connect") != NULL)
        host->register_hook(plugin, STARLING_HOOK_CLIENT_CONNECT, on_client_connect, 0, s);
    if (strstr(pending, "authenticate") != NULL)
        host->register_hook(plugin, STARLING_HOOK_AUTHENTICATE, on_authenticate, 0, s);
    if (strstr(pending, "authorize_publish") != NULL)
        host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_PUBLISH, on_authorize_publish, 0, s);
    if (strstr(pending, "authorize_subscribe") != NULL)
        host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_SUBSCRIBE, on_authorize_subscribe, 0, s);
    *user_data = s;
    return 0;
}

/* The broker calls this only once every ticket is answered or timed out; the workers that gave
 * the answers may still be logging: wait for them. */
STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    state *s = user_data;
    (void)plugin;
    workers_finish(&s->workers);
    s->host->log(s->plugin, STARLING_LOG_INFO, "pending plugin cleanup done");
    free(s);
    return 0;
}
