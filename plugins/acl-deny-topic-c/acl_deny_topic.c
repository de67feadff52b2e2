/*
 * acl-deny-topic-c: refuses publishing to, and subscribing to, the topics one filter covers,
 * and can cap the QoS granted to every subscription. An example of the authorize hooks.
 *
 * Options:
 *   deny     (required) a topic filter, e.g. "secret/#": PUBLISH to a topic it matches is refused
 *            (MQTT 5: PUBACK/PUBREC 0x87), and so is SUBSCRIBE to a filter that could receive
 *            such a topic (SUBACK 0x87; 3.1.1: 0x80).
 *   max_qos  (optional) 0, 1 or 2: subscriptions it allows are granted at most this QoS.
 * Everything else passes to the next plugin (IGNORE).
 *
 * Build (from the repository root):
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o plugins/acl-deny-topic-c/acl-deny-topic-c.so plugins/acl-deny-topic-c/acl_deny_topic.c
 */
#include <starling/plugin.h>

#include <stdlib.h>
#include <string.h>

struct acl_state {
    char *deny;  /* our own copy of the filter: the option string is the broker's */
    int max_qos; /* -1: no cap */
};

/* The length of the topic level starting at `s` (up to '/' or the end). */
static size_t level_length(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && s[n] != '/') {
        n++;
    }
    return n;
}

/*
 * Whether some topic matches both filters `a` and `b` (a topic name is a filter without
 * wildcards, so this also answers "does filter a match topic b"). Walks both level by level:
 * '#' covers the rest, '+' any one level, other levels must be equal.
 */
static int filters_overlap(const char *a, const char *b)
{
    for (;;) {
        size_t la = level_length(a), lb = level_length(b);
        if ((la == 1 && a[0] == '#') || (lb == 1 && b[0] == '#')) {
            return 1;
        }
        if (!((la == 1 && a[0] == '+') || (lb == 1 && b[0] == '+') || (la == lb && memcmp(a, b, la) == 0))) {
            return 0;
        }
        a += la;
        b += lb;
        if (*a == '\0' || *b == '\0') {
            /* One ended: they overlap if both did, or the other goes on with just "/#". */
            const char *rest = *a == '\0' ? b : a;
            return (*a == '\0' && *b == '\0') || strcmp(rest, "/#") == 0;
        }
        a++; /* skip the '/' */
        b++;
    }
}

/* "$share/GROUP/filter" -> "filter"; other filters as they are. */
static const char *without_share_prefix(const char *filter)
{
    if (strncmp(filter, "$share/", 7) == 0) {
        const char *slash = strchr(filter + 7, '/');
        if (slash != NULL) {
            return slash + 1;
        }
    }
    return filter;
}

static int on_authorize_publish(void *event_data, void *user_data)
{
    const starling_authorize_publish_event *event = event_data;
    const struct acl_state *state = user_data;
    return filters_overlap(state->deny, event->topic) ? STARLING_DENY : STARLING_IGNORE;
}

static int on_authorize_subscribe(void *event_data, void *user_data)
{
    starling_authorize_subscribe_event *event = event_data;
    const struct acl_state *state = user_data;
    if (filters_overlap(state->deny, without_share_prefix(event->filter))) {
        return STARLING_DENY;
    }
    if (state->max_qos >= 0 && event->qos > state->max_qos) {
        event->qos = state->max_qos; /* in/out: lowering the QoS is allowed without deciding */
    }
    return STARLING_IGNORE;
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    const char *deny = host->option(plugin, "deny");
    const char *max_qos = host->option(plugin, "max_qos");
    struct acl_state *state;

    (void)options;
    (void)option_count;
    if (deny == NULL || deny[0] == '\0') {
        host->log(plugin, STARLING_LOG_ERROR, "option deny is required: a topic filter such as \"secret/#\"");
        return 1;
    }
    if (max_qos != NULL && !(max_qos[0] >= '0' && max_qos[0] <= '2' && max_qos[1] == '\0')) {
        host->log(plugin, STARLING_LOG_ERROR, "option max_qos must be 0, 1 or 2");
        return 2;
    }
    state = malloc(sizeof *state);
    if (state == NULL) {
        return 3;
    }
    state->deny = malloc(strlen(deny) + 1);
    if (state->deny == NULL) {
        free(state);
        return 3;
    }
    strcpy(state->deny, deny);
    state->max_qos = max_qos != NULL ? max_qos[0] - '0' : -1;

    if (host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_PUBLISH, on_authorize_publish,
                            STARLING_PRIORITY_DEFAULT, state) != STARLING_OK
        || host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_SUBSCRIBE, on_authorize_subscribe,
                               STARLING_PRIORITY_DEFAULT, state) != STARLING_OK) {
        free(state->deny);
        free(state);
        return 4;
    }
    *user_data = state;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    struct acl_state *state = user_data;
    (void)plugin;
    free(state->deny);
    free(state);
    return 0;
}
