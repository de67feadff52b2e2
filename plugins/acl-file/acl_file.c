/*
 * acl-file: authorizes PUBLISH and SUBSCRIBE from a Mosquitto acl_file, read as Mosquitto reads
 * it, plus our own `address` blocks (rules by the client's IP address, ABI 1.3), and reloaded when
 * the file changes. See README.md for the options and the semantics.
 *
 * Build (from the repository root):
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o plugins/acl-file/acl-file.so plugins/acl-file/acl_file.c
 */
#define _POSIX_C_SOURCE 200809L /* getline, clock_gettime, st_mtim, pthreads, inet_pton */

#include <starling/plugin.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

/* The cache-hit path's helpers are inlined even at -O0 (the build line above has no -O), where a call
 * each would cost as much as the work inside it. */
#if defined(__GNUC__) || defined(__clang__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

enum { ACC_READ = 1, ACC_WRITE = 2, ACC_DENY = 4 };

struct rule {
    int access;
    char *filter;
    struct rule *next;
};

struct user_block {
    char *name;
    struct rule *rules;
    struct user_block *next;
};

/* One network of an `address` line, its host bits cleared. */
struct network {
    int family;              /* 4 or 6 */
    unsigned int prefix;     /* 0..32 or 0..128 */
    unsigned char bytes[16]; /* network byte order; IPv4 in the first 4 */
};

/* The rules of an `address` line: for every client connecting from one of its networks. */
struct address_block {
    struct network *networks;
    size_t network_count; /* at least 1 */
    struct rule *rules;
    struct address_block *next;
};

/* One parsed file; immutable once built, replaced as a whole on reload. */
struct ruleset {
    struct rule *anonymous; /* topic lines before the first user or address line: anonymous clients only */
    struct user_block *users;
    struct address_block *addresses; /* in file order */
    struct rule *patterns; /* pattern lines, wherever they are: every client */
    size_t count;
};

/* What identifies a version of the file on disk. */
struct file_stamp {
    int valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/*
 * Recent decisions, as EMQX's authorization cache: clients publish to the same few topics again and
 * again, and a decision depends only on the request and the rules. Each event-loop thread keeps its
 * own cache, so a hit takes no lock and writes nothing another thread reads. Direct-mapped; a
 * thread's cache is emptied on its next call after the rules changed (see `generation`).
 */
#define DECISION_CACHE_BITS 8
#define DECISION_CACHE_SLOTS (1u << DECISION_CACHE_BITS)
#define DECISION_KEY_MAX 512 /* topic + client id + username (+ address) bytes; a longer one is not cached */

/*
 * The lowest bit of acl_state.generation: the rules in force have address blocks, so a decision
 * also depends on the client's address, and the cache keys hold it. One atomic load on the hit path
 * gives both the generation and whether the key has the address, consistently.
 */
#define GENERATION_BY_ADDRESS 1u

struct cached_decision {
    uint64_t hash;
    char *key;             /* topic, client id, username, peer address back to back (lengths below), or NULL */
    uint16_t key_capacity; /* bytes allocated at key, kept for the next request to land here */
    uint16_t topic_len, client_id_len, username_len;
    uint16_t peer_len;     /* 0 when the rules have no address blocks (the key leaves it out), or it is unknown */
    uint8_t what;          /* request_what(); 0: empty slot */
    int8_t decision;       /* ALLOW, DENY, or -1: no rule matched */
};

struct thread_cache {
    unsigned int generation;   /* the rules' generation the slots were filled under */
    struct thread_cache *next; /* in acl_state.caches */
    struct cached_decision slots[DECISION_CACHE_SLOTS];
};

struct acl_state {
    /* Read on every call without the lock. */
    pthread_key_t cache_key; /* the calling thread's struct thread_cache */
    unsigned int generation; /* __atomic; changed under the lock whenever the rules change: see
                              * next_generation (its lowest bit is GENERATION_BY_ADDRESS) */
    long long next_check_ns; /* __atomic; written under the lock: when the file is due a look */
    int no_match;            /* a starling_decision */
    starling_plugin *plugin;
    const starling_host_api *host;
    char *path;
    pthread_mutex_t lock; /* guards everything below; callbacks run on several threads */
    struct ruleset *rules;
    struct file_stamp seen; /* the last version looked at (loaded, or refused) */
    int stat_failed;        /* already logged that the file is unreadable */
    /* Every thread's cache, freed at cleanup. The key has no destructor: the image may be unloaded
     * before a thread exits, and a destructor would then run code that is gone. */
    struct thread_cache *caches;
};

/* The plugin's concerns, one file each, in the order they build on each other. */
#include "acl_topics.h"
#include "acl_address.h"
#include "acl_evaluate.h"
#include "acl_parse.h"
#include "acl_reload.h"
#include "acl_cache.h"

/* ---------------------------------------------------------------------------------------------
 * Hooks and entry points
 * ------------------------------------------------------------------------------------------- */

/* The event's peer address where the broker gives one (ABI 1.3); else "", unknown. A NULL one is
 * taken as unknown too. Only the pointer and length are read: no parsing on the hot path. */
#define SET_PEER(r, event, type)                                                               \
    do {                                                                                       \
        if (STARLING_HAS_MEMBER(event, type, peer_address) && (event)->peer_address != NULL) { \
            (r).peer = (event)->peer_address;                                                  \
            (r).peer_len = (event)->peer_address_len;                                          \
        } else {                                                                               \
            (r).peer = "";                                                                     \
            (r).peer_len = 0;                                                                  \
        }                                                                                      \
    } while (0)

static int on_authorize_publish(void *event_data, void *user_data)
{
    const starling_authorize_publish_event *event = event_data;
    struct request r;
    SET_PEER(r, event, starling_authorize_publish_event);
    r.client_id = event->client_id;
    r.username = event->username;
    r.topic = event->topic;
    r.client_id_len = event->client_id_len;
    r.username_len = event->username != NULL ? event->username_len : 0;
    r.topic_len = event->topic_len;
    r.need = ACC_WRITE;
    r.subscribe = 0;
    return decide(user_data, &r);
}

static int on_authorize_subscribe(void *event_data, void *user_data)
{
    const starling_authorize_subscribe_event *event = event_data;
    struct request r;
    const char *filter = event->filter, *group_end;
    size_t filter_len = event->filter_len;
    if (strncmp(filter, "$share/", 7) == 0 && (group_end = strchr(filter + 7, '/')) != NULL) {
        filter_len -= (size_t)(group_end + 1 - filter); /* the ACL speaks of the topics, not the group */
        filter = group_end + 1;
    }
    SET_PEER(r, event, starling_authorize_subscribe_event);
    r.client_id = event->client_id;
    r.username = event->username;
    r.topic = filter;
    r.client_id_len = event->client_id_len;
    r.username_len = event->username != NULL ? event->username_len : 0;
    r.topic_len = filter_len;
    r.need = ACC_READ;
    r.subscribe = 1;
    return decide(user_data, &r);
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    const char *path = host->option(plugin, "acl_file");
    const char *no_match = host->option(plugin, "no_match");
    struct acl_state *s;
    struct stat st;
    char message[800];

    (void)options;
    (void)option_count;
    if (path == NULL || path[0] == '\0') {
        log_message(&(struct acl_state){.plugin = plugin, .host = host}, STARLING_LOG_ERROR,
                    "option acl_file is required: the path of a Mosquitto acl_file");
        return 1;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return 3;
    }
    s->plugin = plugin;
    s->host = host;
    s->no_match = STARLING_DENY;
    if (no_match != NULL && strcmp(no_match, "allow") == 0) {
        s->no_match = STARLING_ALLOW;
    } else if (no_match != NULL && strcmp(no_match, "ignore") == 0) {
        s->no_match = STARLING_IGNORE;
    } else if (no_match != NULL && strcmp(no_match, "deny") != 0) {
        log_message(s, STARLING_LOG_ERROR, "option no_match must be allow, deny or ignore");
        free(s);
        return 2;
    }
    s->path = copy_string(path);
    if (s->path == NULL) {
        free(s);
        return 3;
    }
    if (stat(path, &st) == 0) {
        stamp_of(&st, &s->seen);
    }
    s->rules = parse_file(path, message, sizeof message);
    if (s->rules == NULL) {
        log_message(s, STARLING_LOG_ERROR, message);
        free(s->path);
        free(s);
        return 4;
    }
    if (init_sharing(s) != 0) {
        free_ruleset(s->rules);
        free(s->path);
        free(s);
        return 3;
    }
    s->generation = next_generation(0, s->rules);
    s->next_check_ns = monotonic_ns() + 1000000000LL;
    if (host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_PUBLISH, on_authorize_publish,
                            STARLING_PRIORITY_DEFAULT, s) != STARLING_OK
        || host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_SUBSCRIBE, on_authorize_subscribe,
                               STARLING_PRIORITY_DEFAULT, s) != STARLING_OK) {
        free_sharing(s);
        free_ruleset(s->rules);
        free(s->path);
        free(s);
        return 5;
    }
    snprintf(message, sizeof message, "loaded %zu rules from %s (no_match %s)", s->rules->count, path,
             s->no_match == STARLING_ALLOW ? "allow" : s->no_match == STARLING_IGNORE ? "ignore" : "deny");
    log_message(s, STARLING_LOG_INFO, message);
    warn_if_address_unknown(s, s->rules);
    *user_data = s;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    struct acl_state *s = user_data;
    (void)plugin;
    free_sharing(s);
    free_ruleset(s->rules);
    free(s->path);
    free(s);
    return 0;
}
