/*
 * auth-password-file: authenticates clients against a Mosquitto password file, as written by
 * mosquitto_passwd or `starling passwd` (lines "user:$7$..." or "user:$6$...").
 *
 * Options:
 *   password_file  (required) the file's path. Read at init (init fails when it cannot be
 *                  read); read again when its modification time, size or inode changes,
 *                  checked at most once a second, on the next CONNECT.
 * Decisions (STARLING_HOOK_AUTHENTICATE):
 *   ALLOW   the user name is in the file and the password matches its hash;
 *   DENY    the user name is in the file and the password does not match (0x86; 3.1.1: 4);
 *   IGNORE  no user name (allow_anonymous decides) or one the file lacks
 *           (authentication.no_match decides).
 * Needs ABI 1.1 (host->verify_password); init fails with a log line on an older broker.
 *
 * Build (from the repository root):
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o plugins/auth-password-file/auth-password-file.so \
 *      plugins/auth-password-file/auth_password_file.c
 */
#define _POSIX_C_SOURCE 200809L

#include <starling/plugin.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* One "user:hash" line. Both strings live in the table's text buffer. */
struct entry {
    const char *user;
    size_t user_len;
    const char *hash;
};

/* The parsed file: `text` owns the strings the entries point into. */
struct table {
    char *text;
    struct entry *entries;
    size_t count;
};

/* What identifies one version of the file on disk. */
struct file_stamp {
    struct timespec mtime;
    off_t size;
    ino_t inode;
};

struct state {
    starling_plugin *plugin;
    const starling_host_api *host;
    char *path;             /* our own copy of the option */
    pthread_mutex_t lock;   /* guards everything below */
    struct table table;
    struct file_stamp stamp;
    long long last_check_ms; /* CLOCK_MONOTONIC, of the last stat() */
};

static void log_line(struct state *state, int32_t level, const char *format, const char *a, const char *b)
{
    char message[1024];
    snprintf(message, sizeof message, format, a, b);
    state->host->log(state->plugin, level, message);
}

static long long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int same_stamp(const struct file_stamp *a, const struct file_stamp *b)
{
    return a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec && a->size == b->size &&
           a->inode == b->inode;
}

static void free_table(struct table *table)
{
    free(table->text);
    free(table->entries);
    memset(table, 0, sizeof *table);
}

/* Reads the whole file into a NUL-terminated buffer; NULL (errno set) when it cannot. */
static char *read_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t capacity = 4096, length = 0;
    char *text = malloc(capacity);
    while (text != NULL) {
        length += fread(text + length, 1, capacity - length - 1, file);
        if (length < capacity - 1) {
            break;
        }
        char *bigger = realloc(text, capacity * 2);
        if (bigger == NULL) {
            free(text);
            text = NULL;
            errno = ENOMEM;
        }
        text = bigger;
        capacity *= 2;
    }
    int failed = text == NULL || ferror(file);
    fclose(file);
    if (failed) {
        free(text);
        return NULL;
    }
    text[length] = '\0';
    return text;
}

/*
 * Splits `text` (taken over) into entries: one per "user:hash" line; blank lines and lines
 * starting with '#' are skipped, as are lines without a colon (logged). A hash that is not
 * "$6$..." or "$7$..." is kept (the user is then always refused) and logged.
 */
static int parse_table(struct state *state, char *text, struct table *out)
{
    size_t lines = 1;
    for (const char *p = text; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    out->text = text;
    out->count = 0;
    out->entries = calloc(lines, sizeof *out->entries);
    if (out->entries == NULL) {
        free(text);
        return -1;
    }
    char *line = text;
    while (line != NULL && *line != '\0') {
        char *next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r') {
            line[--len] = '\0';
        }
        char *colon = strchr(line, ':');
        if (len == 0 || line[0] == '#') {
            /* blank or comment */
        } else if (colon == NULL || colon == line) {
            log_line(state, STARLING_LOG_WARNING, "%s: skipping a line without \"user:\" (%.40s)", state->path, line);
        } else {
            *colon = '\0';
            struct entry *entry = &out->entries[out->count++];
            entry->user = line;
            entry->user_len = (size_t)(colon - line);
            entry->hash = colon + 1;
            if (strncmp(entry->hash, "$6$", 3) != 0 && strncmp(entry->hash, "$7$", 3) != 0) {
                log_line(state, STARLING_LOG_WARNING, "%s: user %s has a hash of an unknown format: always refused",
                      state->path, line);
            }
        }
        line = next;
    }
    return 0;
}

/* Reads and parses the file into `out` and its stamp; logs why and returns -1 when it cannot. */
static int load(struct state *state, struct table *out, struct file_stamp *stamp)
{
    struct stat info;
    char *text;
    if (stat(state->path, &info) != 0 || (text = read_file(state->path)) == NULL) {
        log_line(state, STARLING_LOG_ERROR, "cannot read password_file %s: %s", state->path, strerror(errno));
        return -1;
    }
    stamp->mtime = info.st_mtim;
    stamp->size = info.st_size;
    stamp->inode = info.st_ino;
    return parse_table(state, text, out);
}

/* With the lock held: reloads the file when it changed, at most once a second. */
static void refresh_locked(struct state *state)
{
    long long now = monotonic_ms();
    if (now - state->last_check_ms < 1000) {
        return;
    }
    state->last_check_ms = now;
    struct stat info;
    if (stat(state->path, &info) != 0) {
        return; /* keep the users we have; a file being replaced reappears */
    }
    struct file_stamp current = {info.st_mtim, info.st_size, info.st_ino};
    if (same_stamp(&current, &state->stamp)) {
        return;
    }
    struct table fresh;
    if (load(state, &fresh, &current) != 0) {
        state->stamp = current; /* logged once; tried again when it changes */
        return;
    }
    free_table(&state->table);
    state->table = fresh;
    state->stamp = current;
    char count[32];
    snprintf(count, sizeof count, "%zu", fresh.count);
    log_line(state, STARLING_LOG_INFO, "reloaded %s: %s users", state->path, count);
}

/* With the lock held: a copy of `user`'s stored hash, or NULL when the file lacks the user. */
static char *find_hash_locked(const struct state *state, const char *user, size_t user_len)
{
    for (size_t i = 0; i < state->table.count; i++) {
        const struct entry *entry = &state->table.entries[i];
        if (entry->user_len == user_len && memcmp(entry->user, user, user_len) == 0) {
            size_t len = strlen(entry->hash);
            char *copy = malloc(len + 1);
            if (copy != NULL) {
                memcpy(copy, entry->hash, len + 1);
            }
            return copy;
        }
    }
    return NULL;
}

static int on_authenticate(void *event_data, void *user_data)
{
    const starling_authenticate_event *event = event_data;
    struct state *state = user_data;
    if (event->username == NULL) {
        return STARLING_IGNORE;
    }
    pthread_mutex_lock(&state->lock);
    refresh_locked(state);
    char *hash = find_hash_locked(state, event->username, event->username_len);
    pthread_mutex_unlock(&state->lock);
    if (hash == NULL) {
        return STARLING_IGNORE; /* unknown user (or out of memory): no_match decides */
    }
    /* The hash is verified outside the lock: clients of other threads need not wait for it. */
    bool ok = state->host->verify_password(hash, event->password, event->password_len);
    free(hash);
    return ok ? STARLING_ALLOW : STARLING_DENY;
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    (void)options;
    (void)option_count;
    if (!STARLING_HAS_MEMBER(host, starling_host_api, verify_password)) {
        host->log(plugin, STARLING_LOG_ERROR,
                  "this broker lacks verify_password (plugin ABI 1.1): upgrade the broker to use auth-password-file");
        return 1;
    }
    const char *path = host->option(plugin, "password_file");
    if (path == NULL || path[0] == '\0') {
        host->log(plugin, STARLING_LOG_ERROR, "option password_file is required");
        return 2;
    }
    struct state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        return 3;
    }
    state->plugin = plugin;
    state->host = host;
    state->path = malloc(strlen(path) + 1);
    if (state->path == NULL || pthread_mutex_init(&state->lock, NULL) != 0) {
        free(state->path);
        free(state);
        return 3;
    }
    strcpy(state->path, path);
    if (load(state, &state->table, &state->stamp) != 0) {
        pthread_mutex_destroy(&state->lock);
        free(state->path);
        free(state);
        return 4;
    }
    state->last_check_ms = monotonic_ms();
    char count[32];
    snprintf(count, sizeof count, "%zu", state->table.count);
    log_line(state, STARLING_LOG_INFO, "loaded %s: %s users", path, count);
    int status = host->register_hook(plugin, STARLING_HOOK_AUTHENTICATE, on_authenticate, STARLING_PRIORITY_DEFAULT,
                                     state);
    if (status != STARLING_OK) {
        free_table(&state->table);
        pthread_mutex_destroy(&state->lock);
        free(state->path);
        free(state);
        return 5;
    }
    *user_data = state;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    (void)plugin;
    struct state *state = user_data;
    free_table(&state->table);
    pthread_mutex_destroy(&state->lock);
    free(state->path);
    free(state);
    return 0;
}
