/*
 * hello-c: the smallest complete Starling plugin. Copy it to start your own.
 *
 * It logs a greeting when it is loaded (option "greeting"), counts the clients that connect
 * and logs each one, and logs the count when it is unloaded.
 *
 * Build (from the repository root):
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o plugins/hello-c/hello-c.so plugins/hello-c/hello.c
 */
#include <starling/plugin.h>

#include <stdio.h>
#include <stdlib.h>

/* Everything but the three entry points is static: `nm -D --defined-only` shows only those. */

struct hello_state {
    const starling_host_api *host; /* the broker's table: keep the pointer, valid until cleanup */
    starling_plugin *plugin;       /* our handle, for every host call */
    unsigned long connections;     /* updated from several event-loop threads: atomically */
};

/* client_connected runs on the client's event-loop thread, concurrently for different clients. */
static int on_client_connected(void *event_data, void *user_data)
{
    const starling_client_connected_event *event = event_data;
    struct hello_state *state = user_data;
    unsigned long count = __atomic_add_fetch(&state->connections, 1, __ATOMIC_RELAXED);
    char line[256];

    /* event->client_id is the broker's memory, valid during this call only: format it now. */
    snprintf(line, sizeof line, "client %s connected (%lu so far)", event->client_id, count);
    state->host->log(state->plugin, STARLING_LOG_INFO, line);
    return 0; /* ignored for notifications */
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    struct hello_state *state;
    const char *greeting;
    char line[256];
    int status;

    (void)options; /* host->option() looks options up by name; the array is there to walk */
    (void)option_count;

    state = calloc(1, sizeof *state);
    if (state == NULL) {
        return 1; /* the load fails; the broker logs this value */
    }
    state->host = host;
    state->plugin = plugin;

    greeting = host->option(plugin, "greeting");
    snprintf(line, sizeof line, "%s from hello-c (broker %s)", greeting != NULL ? greeting : "hello",
             host->broker_version);
    host->log(plugin, STARLING_LOG_INFO, line);

    status = host->register_hook(plugin, STARLING_HOOK_CLIENT_CONNECTED, on_client_connected,
                                 STARLING_PRIORITY_DEFAULT, state);
    if (status != STARLING_OK) {
        free(state); /* cleanup is not called after a failed init */
        return 2;
    }
    *user_data = state;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    struct hello_state *state = user_data;
    char line[128];

    /* No callback runs any more: the broker waited for them before calling cleanup. */
    snprintf(line, sizeof line, "goodbye from hello-c after %lu connections", state->connections);
    state->host->log(plugin, STARLING_LOG_INFO, line);
    free(state);
    return 0;
}
