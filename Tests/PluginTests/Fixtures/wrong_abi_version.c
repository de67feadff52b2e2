/* A plugin built for an ABI version this broker does not serve; init must never run. */
#include <starling/plugin.h>

STARLING_PLUGIN_EXPORT int starling_plugin_version(void) { return 99; }

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    (void)options; (void)option_count; (void)user_data;
    host->log(plugin, STARLING_LOG_ERROR, "wrong_abi_version: init ran");
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    (void)plugin; (void)user_data;
    return 0;
}
