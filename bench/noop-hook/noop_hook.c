/*
 * noop-hook: the "do-nothing publish hook" of the benchmark: a message_publish callback that
 * changes nothing (OK). Used by bench/hook-chain.sh to measure what the hook chain itself costs
 * per message. (on_authorize_publish, an IGNORE on the other chain a PUBLISH crosses, is
 * registered too when the plugin's option "authorize" is "true".)
 *
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o bench/noop-hook/noop-hook.so bench/noop-hook/noop_hook.c
 */
#include <starling/plugin.h>

#include <stddef.h>

static int on_authorize_publish(void *event, void *user_data)
{
    (void)event;
    (void)user_data;
    return STARLING_IGNORE;
}

static int on_message_publish(void *event, void *user_data)
{
    (void)event;
    (void)user_data;
    return STARLING_HOOK_OK;
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    const char *authorize = host->option(plugin, "authorize");
    (void)options;
    (void)option_count;
    *user_data = NULL;
    if (authorize != NULL && authorize[0] == 't'
        && host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_PUBLISH, on_authorize_publish,
                               STARLING_PRIORITY_DEFAULT, NULL) != STARLING_OK) {
        return 1;
    }
    return host->register_hook(plugin, STARLING_HOOK_MESSAGE_PUBLISH, on_message_publish,
                               STARLING_PRIORITY_DEFAULT, NULL) == STARLING_OK ? 0 : 1;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    (void)plugin;
    (void)user_data;
    return 0;
}
