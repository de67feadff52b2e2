/*
 * The plugin MessageHookTests drive: the ABI 1.2 message, subscription and session hooks, each
 * behaviour chosen by an option. Notifications are logged, one line each, for the test to count:
 *   "mh: delivered CLIENT TOPIC qos Q dup D"   "mh: acked CLIENT TOPIC qos Q"
 *   "mh: dropped REASON CLIENT TOPIC"           "mh: session created|resumed|taken_over|ended CLIENT reason R"
 * and the user names the events carry (ABI 1.2, appended fields), one line each:
 *   "mh: users publish|delivered|dropped PUBLISHER-USER"   "mh: users session WHAT CLIENT USER"
 * ("-" for NULL; logged only when the option users is set)
 *
 * Options (all optional):
 *   rewrite_from / rewrite_to   message_publish: a message on topic rewrite_from goes to rewrite_to
 *                               with payload "REWRITTEN" (a static string), QoS 1, a content type
 *                               "text/x-rewritten" and one user property "hooked"="yes"
 *   drop_prefix                 message_publish: STOP messages whose topic starts with it
 *   bad_topic                   message_publish: rewrite this topic to "bad/+/wildcard" (invalid)
 *   odd_topic                   message_publish: return 7 (neither OK nor STOP) for this topic
 *   sub_from / sub_to           subscribe: rewrite filter sub_from to sub_to
 *   sub_stop                    subscribe and unsubscribe: STOP filters starting with it
 *   notify                      register delivered, acked, dropped and the session hooks
 */
#include <starling/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct state {
    const starling_host_api *host;
    starling_plugin *plugin;
    const char *rewrite_from, *rewrite_to, *drop_prefix, *bad_topic, *odd_topic, *sub_from, *sub_to, *sub_stop;
};

static const char payload[] = "REWRITTEN";
static const char content_type[] = "text/x-rewritten";
static const starling_user_property hooked = { "hooked", 6, "yes", 3 };
static const char invalid_topic[] = "bad/+/wildcard";

static void say(const struct state *s, const char *format, ...);
static int log_users;
#define NAME(p) ((p) != NULL ? (p) : "-")

static int same(const char *text, size_t len, const char *option)
{
    return option != NULL && strlen(option) == len && memcmp(text, option, len) == 0;
}

static int starts(const char *text, size_t len, const char *option)
{
    return option != NULL && strlen(option) <= len && memcmp(text, option, strlen(option)) == 0;
}

static int on_publish(void *data, void *user)
{
    starling_message_publish_event *e = data;
    const struct state *s = user;
    if (log_users && STARLING_HAS_MEMBER(e, starling_message_publish_event, username)) {
        say(s, "users publish %s %s", e->topic, NAME(e->username));
    }
    if (starts(e->topic, e->topic_len, s->drop_prefix)) {
        return STARLING_HOOK_STOP;
    }
    if (same(e->topic, e->topic_len, s->rewrite_from)) {
        e->new_topic = s->rewrite_to;
        e->new_topic_len = strlen(s->rewrite_to);
        e->new_payload = (const uint8_t *)payload;
        e->new_payload_len = sizeof payload - 1;
        e->qos = 1;
        e->new_content_type = content_type;
        e->new_content_type_len = sizeof content_type - 1;
        e->replace_user_properties = true;
        e->new_user_properties = &hooked;
        e->new_user_property_count = 1;
    }
    if (same(e->topic, e->topic_len, s->odd_topic)) {
        return 7;
    }
    if (same(e->topic, e->topic_len, s->bad_topic)) {
        e->new_topic = invalid_topic;
        e->new_topic_len = sizeof invalid_topic - 1;
    }
    return STARLING_HOOK_OK;
}

static int on_subscription(void *data, void *user)
{
    starling_subscription_event *e = data;
    const struct state *s = user;
    if (starts(e->filter, e->filter_len, s->sub_stop)) {
        return STARLING_HOOK_STOP;
    }
    if (same(e->filter, e->filter_len, s->sub_from)) {
        e->new_filter = s->sub_to;
        e->new_filter_len = strlen(s->sub_to);
    }
    return STARLING_HOOK_OK;
}

static int on_delivered(void *data, void *user)
{
    const starling_message_delivery_event *e = data;
    say(user, "delivered %s %s qos %d dup %d", e->client_id, e->topic, (int)e->qos, (int)e->dup);
    if (log_users && STARLING_HAS_MEMBER(e, starling_message_delivery_event, publisher_username)) {
        say(user, "users delivered %s %s", e->topic, NAME(e->publisher_username));
    }
    return 0;
}

static int on_acked(void *data, void *user)
{
    const starling_message_delivery_event *e = data;
    say(user, "acked %s %s qos %d", e->client_id, e->topic, (int)e->qos);
    return 0;
}

static int on_dropped(void *data, void *user)
{
    const starling_message_dropped_event *e = data;
    say(user, "dropped %d %s %s", (int)e->reason, e->client_id != NULL ? e->client_id : "-", e->topic);
    if (log_users && STARLING_HAS_MEMBER(e, starling_message_dropped_event, publisher_username)) {
        say(user, "users dropped %s %s", e->topic, NAME(e->publisher_username));
    }
    return 0;
}

static int on_session(const char *what, void *data, void *user)
{
    const starling_session_event *e = data;
    say(user, "session %s %s reason %d", what, e->client_id, (int)e->reason);
    if (log_users && STARLING_HAS_MEMBER(e, starling_session_event, username)) {
        say(user, "users session %s %s %s", what, e->client_id, NAME(e->username));
    }
    return 0;
}

static int on_created(void *data, void *user) { return on_session("created", data, user); }
static int on_resumed(void *data, void *user) { return on_session("resumed", data, user); }
static int on_taken_over(void *data, void *user) { return on_session("taken_over", data, user); }
static int on_ended(void *data, void *user) { return on_session("ended", data, user); }

static void say(const struct state *s, const char *format, ...)
{
    char text[400];
    char line[420];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    snprintf(line, sizeof line, "mh: %s", text);
    s->host->log(s->plugin, STARLING_LOG_INFO, line);
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    struct state *s = calloc(1, sizeof *s);
    int failed = 0;
    (void)options;
    (void)option_count;
    if (s == NULL) {
        return 100;
    }
    s->host = host;
    s->plugin = plugin;
    s->rewrite_from = host->option(plugin, "rewrite_from");
    s->rewrite_to = host->option(plugin, "rewrite_to");
    s->drop_prefix = host->option(plugin, "drop_prefix");
    s->bad_topic = host->option(plugin, "bad_topic");
    s->odd_topic = host->option(plugin, "odd_topic");
    s->sub_from = host->option(plugin, "sub_from");
    s->sub_to = host->option(plugin, "sub_to");
    s->sub_stop = host->option(plugin, "sub_stop");
    log_users = host->option(plugin, "users") != NULL;
    if ((s->rewrite_from != NULL && s->rewrite_to != NULL) || s->drop_prefix != NULL || s->bad_topic != NULL
        || s->odd_topic != NULL || log_users) {
        failed |= host->register_hook(plugin, STARLING_HOOK_MESSAGE_PUBLISH, on_publish, 0, s);
    }
    if ((s->sub_from != NULL && s->sub_to != NULL) || s->sub_stop != NULL) {
        failed |= host->register_hook(plugin, STARLING_HOOK_SUBSCRIBE, on_subscription, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_UNSUBSCRIBE, on_subscription, 0, s);
    }
    if (host->option(plugin, "notify") != NULL) {
        failed |= host->register_hook(plugin, STARLING_HOOK_MESSAGE_DELIVERED, on_delivered, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_MESSAGE_ACKED, on_acked, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_MESSAGE_DROPPED, on_dropped, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_SESSION_CREATED, on_created, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_SESSION_RESUMED, on_resumed, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_SESSION_TAKEN_OVER, on_taken_over, 0, s);
        failed |= host->register_hook(plugin, STARLING_HOOK_SESSION_ENDED, on_ended, 0, s);
    }
    if (failed != 0) {
        free(s);
        return 1;
    }
    *user_data = s;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    (void)plugin;
    free(user_data);
    return 0;
}
