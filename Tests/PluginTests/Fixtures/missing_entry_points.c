/* A plugin that forgot two of its three entry points (they are static). */
#include <starling/plugin.h>

STARLING_PLUGIN_EXPORT int starling_plugin_version(void) { return STARLING_PLUGIN_ABI_VERSION; }

static int starling_plugin_init_(void) { return 0; }
int unused_helper(void) { return starling_plugin_init_(); }
