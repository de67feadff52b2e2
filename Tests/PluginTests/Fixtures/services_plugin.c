/*
 * A test plugin for the ABI 1.2 services, driven by its options; it logs what happens so the
 * tests can follow.
 *   subscribe=FILTER   subscribe (QoS 1) and log "got TOPIC PAYLOAD qos Q retain R from ID"
 *   own=1              ... with STARLING_SUBSCRIBE_OWN_MESSAGES
 *   timer_ms=N         start a repeating timer; each firing logs "tick K" (and takes ~10 ms)
 *   cancel_after=K     the timer cancels itself at its K-th firing
 * Exported functions: add(int64,int64)->int64, scale(double,double)->double, negate(bool)->bool,
 * greet(string)->string, mixed(int64,double,bool,string)->string, touch()->void,
 * publish_text(string,string)->int64, unsubscribe_all()->int64, count(string,int64)->int64,
 * gauge(string,int64)->int64, relay(string,string,int64,int64)->int64 (host->call_function),
 * nap(int64)->int64 (sleeps that many milliseconds, logs "nap done", returns them).
 */
#include <starling/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static starling_plugin *self;
static const starling_host_api *host;
static uint64_t subscriptions[8];
static int subscription_count;
static uint64_t timer;
static volatile int ticks;
static volatile int in_tick;
static int cancel_after;
static int touched;

static void say(const char *text) { host->log(self, STARLING_LOG_INFO, text); }

static char *copy(const char *text) {
    size_t length = strlen(text);
    char *result = malloc(length + 1);
    memcpy(result, text, length + 1);
    return result;
}

static void on_message(const starling_message_event *event, void *user_data) {
    (void)user_data;
    char line[512];
    snprintf(line, sizeof line, "got %.*s %.*s qos %d retain %d from %s", (int)event->topic_len, event->topic,
             (int)event->payload_len, event->payload ? (const char *)event->payload : "", (int)event->qos,
             (int)event->retain, event->publisher_id ? event->publisher_id : "(broker)");
    say(line);
}

static void on_tick(uint64_t id, void *user_data) {
    (void)user_data;
    char line[128];
    in_tick = 1;
    int count = ++ticks;
    snprintf(line, sizeof line, "tick %d", count);
    say(line);
    if (cancel_after > 0 && count == cancel_after) {
        snprintf(line, sizeof line, "timer cancelled -> %d", host->timer_cancel(self, id));
        say(line);
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    in_tick = 0;
}

static int64_t add(int64_t a, int64_t b) { return a + b; }
static double scale(double a, double b) { return a * b; }
static bool negate(bool value) { return !value; }
static void touch(void) { touched++; }

static char *greet(const char *name) {
    char line[256];
    snprintf(line, sizeof line, "hello, %s", name);
    return copy(line);
}

static char *mixed(int64_t i, double d, bool b, const char *s) {
    char line[256];
    snprintf(line, sizeof line, "i=%lld d=%.2f b=%d s=%s", (long long)i, d, (int)b, s);
    return copy(line);
}

static int64_t publish_text(const char *topic, const char *payload) {
    return host->publish(self, topic, payload, strlen(payload), 1, false);
}

static int64_t unsubscribe_all(void) {
    int64_t failures = 0;
    for (int i = 0; i < subscription_count; i++) failures += host->unsubscribe(self, subscriptions[i]) != STARLING_OK;
    failures += host->unsubscribe(self, subscriptions[0]) != STARLING_ERR_NOT_FOUND;  /* already gone */
    subscription_count = 0;
    return failures;
}

static int64_t nap(int64_t milliseconds) {
    struct timespec pause = {(time_t)(milliseconds / 1000), (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    say("nap done");
    return milliseconds;
}

static int64_t count(const char *name, int64_t delta) { return host->counter_add(self, name, delta); }
static int64_t gauge(const char *name, int64_t value) { return host->gauge_set(self, name, value); }

static int64_t relay(const char *plugin, const char *function, int64_t a, int64_t b) {
    starling_value args[2];
    args[0].type = STARLING_VALUE_INT64;
    args[0].value.int64 = a;
    args[1].type = STARLING_VALUE_INT64;
    args[1].value.int64 = b;
    starling_value result;
    int status = host->call_function(self, plugin, function, args, 2, &result);
    if (status != STARLING_OK) return 1000 + status;
    return result.type == STARLING_VALUE_INT64 ? result.value.int64 : -1;
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void) { return STARLING_PLUGIN_ABI_VERSION; }

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *api,
                                                const starling_option *options, size_t option_count,
                                                void **user_data) {
    (void)options;
    (void)option_count;
    (void)user_data;
    self = plugin;
    host = api;
    if (!STARLING_HAS_MEMBER(host, starling_host_api, call_function)) return 2;
    subscription_count = 0;
    ticks = 0;
    const char *filter = host->option(self, "subscribe");
    if (filter) {
        const char *own = host->option(self, "own");
        uint32_t flags = own && strcmp(own, "1") == 0 ? STARLING_SUBSCRIBE_OWN_MESSAGES : 0;
        int status = host->subscribe(self, filter, 1, flags, on_message, NULL, &subscriptions[subscription_count]);
        if (status != STARLING_OK) return 3;
        subscription_count++;
    }
    const char *cancel = host->option(self, "cancel_after");
    cancel_after = cancel ? atoi(cancel) : 0;
    const char *period = host->option(self, "timer_ms");
    if (period && host->timer_start(self, (uint64_t)atoi(period), (uint64_t)atoi(period), on_tick, NULL, &timer) != STARLING_OK) {
        return 4;
    }
    char line[160];
    uint64_t ignored;
    snprintf(line, sizeof line, "bad filter -> %d, bad qos -> %d, bad name -> %d, bad signature -> %d, unknown timer -> %d",
             host->subscribe(self, "a/#/b", 0, 0, on_message, NULL, &ignored),
             host->subscribe(self, "a", 3, 0, on_message, NULL, &ignored),
             host->counter_add(self, "Bad-Name", 1),
             host->export_function(self, "broken", "int64(float)", (starling_function)add),
             host->timer_cancel(self, 987654321));
    say(line);
    int exported = host->export_function(self, "add", "int64(int64, int64)", (starling_function)add)
        | host->export_function(self, "scale", "double(double,double)", (starling_function)scale)
        | host->export_function(self, "negate", "bool(bool)", (starling_function)negate)
        | host->export_function(self, "greet", "string(string)", (starling_function)greet)
        | host->export_function(self, "mixed", "string(int64,double,bool,string)", (starling_function)mixed)
        | host->export_function(self, "touch", "void()", (starling_function)touch)
        | host->export_function(self, "publish_text", "int64(string,string)", (starling_function)publish_text)
        | host->export_function(self, "unsubscribe_all", "int64()", (starling_function)unsubscribe_all)
        | host->export_function(self, "count", "int64(string,int64)", (starling_function)count)
        | host->export_function(self, "gauge", "int64(string,int64)", (starling_function)gauge)
        | host->export_function(self, "relay", "int64(string,string,int64,int64)", (starling_function)relay)
        | host->export_function(self, "nap", "int64(int64)", (starling_function)nap);
    snprintf(line, sizeof line, "exported -> %d, again -> %d", exported,
             host->export_function(self, "add", "int64(int64,int64)", (starling_function)add));
    say(line);
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data) {
    (void)user_data;
    char line[160];
    uint64_t ignored;
    snprintf(line, sizeof line, "cleanup after %d ticks, firing %d, touched %d, subscribe now -> %d", ticks, in_tick,
             touched, host->subscribe(plugin, "late", 0, 0, on_message, NULL, &ignored));
    say(line);
    return 0;
}
