/*
 * Plays an ABI 1.0 broker: loads the plugin given as argv[1] and calls its init with a host table
 * whose struct_size ends before verify_password and abi_minor 0, option password_file = argv[2].
 * Prints every log line and then "init returned N".
 */
#define _POSIX_C_SOURCE 200809L
#include <starling/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static void log_line(starling_plugin *plugin, int32_t level, const char *message)
{
    (void)plugin;
    printf("log %d %s\n", (int)level, message);
}

static const char *password_file;

static const char *option(starling_plugin *plugin, const char *name)
{
    (void)plugin;
    return strcmp(name, "password_file") == 0 ? password_file : NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        return 2;
    }
    password_file = argv[2];
    void *image = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (image == NULL) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    int (*init)(starling_plugin *, const starling_host_api *, const starling_option *, size_t, void **);
    *(void **)&init = dlsym(image, "starling_plugin_init");
    starling_host_api host;
    memset(&host, 0, sizeof host);
    host.struct_size = offsetof(starling_host_api, verify_password); /* ABI 1.0's table */
    host.abi_version = 1;
    host.log = log_line;
    host.option = option;
    void *user_data = NULL;
    printf("init returned %d\n", init((starling_plugin *)&host, &host, NULL, 0, &user_data));
    return 0;
}
