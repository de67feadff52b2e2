/*
 * acl-file: authorizes PUBLISH and SUBSCRIBE from a Mosquitto acl_file, read as Mosquitto reads
 * it, and reloaded when the file changes. See README.md for the options and the semantics.
 *
 * Build (from the repository root):
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude \
 *      -o plugins/acl-file/acl-file.so plugins/acl-file/acl_file.c
 */
#define _POSIX_C_SOURCE 200809L /* getline, clock_gettime, st_mtim, pthreads */

#include <starling/plugin.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

/* One parsed file; immutable once built, replaced as a whole on reload. */
struct ruleset {
    struct rule *anonymous; /* topic lines before the first user line: anonymous clients only */
    struct user_block *users;
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
 * again, and a decision depends only on the request and the rules. Direct-mapped, guarded by the
 * state's lock, emptied whenever the rules change.
 */
#define DECISION_CACHE_SLOTS 256
#define DECISION_KEY_MAX 512

struct cached_decision {
    unsigned long long hash;
    size_t key_len; /* 0: empty slot */
    char *key;      /* need, subscribe, username flag, then username, client id and topic, NUL-separated */
    int decision;
};

struct acl_state {
    starling_plugin *plugin;
    const starling_host_api *host;
    char *path;
    int no_match; /* a starling_decision */
    pthread_mutex_t lock; /* guards everything below; callbacks run on several threads */
    struct ruleset *rules;
    struct file_stamp seen;     /* the last version looked at (loaded, or refused) */
    long long last_check_ns;    /* CLOCK_MONOTONIC of the last stat() */
    int stat_failed;            /* already logged that the file is unreadable */
    struct cached_decision cache[DECISION_CACHE_SLOTS];
};

/* ---------------------------------------------------------------------------------------------
 * Topic matching
 * ------------------------------------------------------------------------------------------- */

static size_t level_length(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && s[n] != '/') {
        n++;
    }
    return n;
}

static int is_wildcard_level(const char *s)
{
    return (s[0] == '+' || s[0] == '#') && (s[1] == '\0' || s[1] == '/');
}

/*
 * Whether ACL filter `acl` covers `req`: every topic `req` matches is matched by `acl`. `req` is
 * a topic name (publish) or a requested filter (subscribe) whose '+' and '#' are taken literally
 * against the ACL's wildcards: ACL "a/#" covers "a/+/b" and "a", ACL "a/+" does not cover "a/#".
 * A leading wildcard never covers a '$' topic.
 */
static int covers(const char *acl, const char *req)
{
    if (req[0] == '$' && is_wildcard_level(acl)) {
        return 0;
    }
    for (;;) {
        size_t la = level_length(acl), lr = level_length(req);
        if (la == 1 && acl[0] == '#') {
            return 1;
        }
        if (la == 1 && acl[0] == '+') {
            if (lr == 1 && req[0] == '#') {
                return 0; /* one level does not cover many */
            }
        } else if (la != lr || memcmp(acl, req, la) != 0) {
            return 0;
        }
        acl += la;
        req += lr;
        if (*req == '\0') {
            return *acl == '\0' || strcmp(acl, "/#") == 0; /* '#' also matches the parent level */
        }
        if (*acl == '\0') {
            return 0;
        }
        acl++;
        req++;
    }
}

/* Whether some topic matches both filters (for deny rules at subscribe time). */
static int overlaps(const char *a, const char *b)
{
    if ((a[0] == '$' && is_wildcard_level(b)) || (b[0] == '$' && is_wildcard_level(a))) {
        return 0;
    }
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
            const char *rest = *a == '\0' ? b : a;
            return (*a == '\0' && *b == '\0') || strcmp(rest, "/#") == 0;
        }
        a++;
        b++;
    }
}

/* A valid MQTT filter: not empty, '+' and '#' only as whole levels, '#' only last. */
static int valid_filter(const char *f)
{
    if (*f == '\0') {
        return 0;
    }
    for (;;) {
        size_t n = level_length(f);
        if (memchr(f, '+', n) != NULL || memchr(f, '#', n) != NULL) {
            if (n != 1 || (f[0] == '#' && f[1] != '\0')) {
                return 0;
            }
        }
        f += n;
        if (*f == '\0') {
            return 1;
        }
        f++;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------------------------------- */

struct request {
    const char *client_id;
    const char *username; /* NULL: anonymous */
    const char *topic;    /* topic name, or the requested filter without $share/GROUP/ */
    int need;             /* ACC_READ (subscribe) or ACC_WRITE (publish) */
    int subscribe;
};

/*
 * Writes `pattern` with "%u" and "%c" replaced (anywhere, as Mosquitto does) into a new string.
 * Returns NULL and sets *skip when the rule cannot apply (%u for an anonymous client), or
 * *unsafe when the value holds a wildcard and would widen the rule.
 */
static char *substitute(const char *pattern, const struct request *r, int *skip, int *unsafe)
{
    size_t size = strlen(pattern) + 1, ulen = r->username ? strlen(r->username) : 0, clen = strlen(r->client_id);
    const char *p;
    char *out, *o;
    for (p = strchr(pattern, '%'); p != NULL; p = strchr(p + 1, '%')) {
        size += ulen + clen;
    }
    o = out = malloc(size);
    if (out == NULL) {
        *unsafe = 1;
        return NULL;
    }
    for (p = pattern; *p != '\0'; p++) {
        if (p[0] == '%' && (p[1] == 'u' || p[1] == 'c')) {
            const char *value = p[1] == 'u' ? r->username : r->client_id;
            if (value == NULL || strpbrk(value, "+#") != NULL) {
                *(value == NULL ? skip : unsafe) = 1;
                free(out);
                return NULL;
            }
            memcpy(o, value, strlen(value));
            o += strlen(value);
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* 1: the rule matches the request in the way `deny_pass` asks; -1: refuse outright. */
static int rule_matches(const struct rule *rule, const struct request *r, int deny_pass, int pattern)
{
    const char *filter = rule->filter;
    char *expanded = NULL;
    int result;
    if (deny_pass != ((rule->access & ACC_DENY) != 0) || (!deny_pass && !(rule->access & r->need))) {
        return 0;
    }
    if (pattern) {
        int skip = 0, unsafe = 0;
        expanded = substitute(rule->filter, r, &skip, &unsafe);
        if (expanded == NULL) {
            return unsafe ? -1 : 0;
        }
        filter = expanded;
    }
    /* A subscription is refused when it could receive a denied topic: ABI 1.0 has no hook at
     * delivery, so read access is decided entirely at subscribe time. */
    result = deny_pass && r->subscribe ? overlaps(filter, r->topic) : covers(filter, r->topic);
    free(expanded);
    return result;
}

static int list_matches(const struct rule *rule, const struct request *r, int deny_pass, int pattern)
{
    for (; rule != NULL; rule = rule->next) {
        int m = rule_matches(rule, r, deny_pass, pattern);
        if (m != 0) {
            return m;
        }
    }
    return 0;
}

/* ALLOW, DENY, or -1 when no rule matched. Deny rules are looked at first and win. */
static int evaluate(const struct ruleset *rs, const struct request *r)
{
    int pass;
    for (pass = 1; pass >= 0; pass--) {
        const struct user_block *u;
        int m = 0;
        if (r->username == NULL) {
            m = list_matches(rs->anonymous, r, pass, 0);
        } else {
            for (u = rs->users; u != NULL && m == 0; u = u->next) {
                if (strcmp(u->name, r->username) == 0) {
                    m = list_matches(u->rules, r, pass, 0);
                }
            }
        }
        if (m == 0) {
            m = list_matches(rs->patterns, r, pass, 1);
        }
        if (m < 0 || (m > 0 && pass == 1)) {
            return STARLING_DENY;
        }
        if (m > 0) {
            return STARLING_ALLOW;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------------------------- */

static void free_rules(struct rule *rule)
{
    while (rule != NULL) {
        struct rule *next = rule->next;
        free(rule->filter);
        free(rule);
        rule = next;
    }
}

static void free_ruleset(struct ruleset *rs)
{
    if (rs == NULL) {
        return;
    }
    free_rules(rs->anonymous);
    free_rules(rs->patterns);
    while (rs->users != NULL) {
        struct user_block *next = rs->users->next;
        free_rules(rs->users->rules);
        free(rs->users->name);
        free(rs->users);
        rs->users = next;
    }
    free(rs);
}

static char *copy_string(const char *s)
{
    char *c = malloc(strlen(s) + 1);
    if (c != NULL) {
        strcpy(c, s);
    }
    return c;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char *skip_blanks(char *s)
{
    while (is_blank(*s)) {
        s++;
    }
    return s;
}

/* Cuts the word at `s` off with a NUL and returns what follows it, blanks skipped. */
static char *cut_word(char *s)
{
    while (*s != '\0' && !is_blank(*s)) {
        s++;
    }
    if (*s != '\0') {
        *s++ = '\0';
    }
    return skip_blanks(s);
}

/* Parses one non-comment line into `rs`; `*tail` is where the next topic rule goes. Returns 0,
 * or writes the problem into `err`. */
static int parse_line(char *line, struct ruleset *rs, struct rule ***tail, char *err, size_t errsize)
{
    char *keyword = line, *rest = cut_word(line);
    if (strcmp(keyword, "user") == 0) {
        struct user_block *u, **end;
        if (*rest == '\0') {
            snprintf(err, errsize, "user without a name");
            return -1;
        }
        u = calloc(1, sizeof *u);
        if (u == NULL || (u->name = copy_string(rest)) == NULL) {
            free(u);
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        for (end = &rs->users; *end != NULL; end = &(*end)->next) {
        }
        *end = u;
        *tail = &u->rules;
        return 0;
    }
    if (strcmp(keyword, "topic") == 0 || strcmp(keyword, "pattern") == 0) {
        char *word = rest, *filter = cut_word(rest);
        int access = ACC_READ | ACC_WRITE;
        struct rule *rule, **end;
        if (*word == '\0') {
            snprintf(err, errsize, "%s line without a topic filter", keyword);
            return -1;
        }
        if (*filter == '\0') {
            filter = word; /* "topic FILTER": read and write */
        } else if (strcmp(word, "read") == 0) {
            access = ACC_READ;
        } else if (strcmp(word, "write") == 0) {
            access = ACC_WRITE;
        } else if (strcmp(word, "deny") == 0) {
            access = ACC_DENY;
        } else if (strcmp(word, "readwrite") != 0) {
            snprintf(err, errsize, "unknown access \"%.64s\" (read, write, readwrite or deny)", word);
            return -1;
        }
        if (!valid_filter(filter)) {
            snprintf(err, errsize, "invalid topic filter \"%.200s\"", filter);
            return -1;
        }
        rule = calloc(1, sizeof *rule);
        if (rule == NULL || (rule->filter = copy_string(filter)) == NULL) {
            free(rule);
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        rule->access = access;
        end = keyword[0] == 'p' ? &rs->patterns : *tail;
        while (*end != NULL) {
            end = &(*end)->next;
        }
        *end = rule;
        rs->count++;
        return 0;
    }
    snprintf(err, errsize, "unknown keyword \"%.64s\" (topic, pattern or user)", keyword);
    return -1;
}

/* Reads the file. Returns the rule set, or NULL with the problem (and its line) in `err`. */
static struct ruleset *parse_file(const char *path, char *err, size_t errsize)
{
    FILE *file = fopen(path, "r");
    struct ruleset *rs;
    struct rule **tail;
    char *line = NULL, problem[320];
    size_t capacity = 0;
    ssize_t length;
    unsigned long number = 0;

    if (file == NULL) {
        snprintf(err, errsize, "cannot open acl_file %s: %s", path, strerror(errno));
        return NULL;
    }
    rs = calloc(1, sizeof *rs);
    if (rs == NULL) {
        fclose(file);
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    tail = &rs->anonymous;
    while ((length = getline(&line, &capacity, file)) >= 0) {
        char *start;
        number++;
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r' || is_blank(line[length - 1]))) {
            line[--length] = '\0';
        }
        start = skip_blanks(line);
        if (*start == '\0' || *start == '#') {
            continue;
        }
        if (parse_line(start, rs, &tail, problem, sizeof problem) != 0) {
            snprintf(err, errsize, "acl_file %s line %lu: %s", path, number, problem);
            free(line);
            fclose(file);
            free_ruleset(rs);
            return NULL;
        }
    }
    free(line);
    fclose(file);
    return rs;
}

/* ---------------------------------------------------------------------------------------------
 * Reloading
 * ------------------------------------------------------------------------------------------- */

static void stamp_of(const struct stat *st, struct file_stamp *stamp)
{
    stamp->valid = 1;
    stamp->dev = st->st_dev;
    stamp->ino = st->st_ino;
    stamp->size = st->st_size;
    stamp->mtime = st->st_mtim;
}

static int same_stamp(const struct file_stamp *a, const struct file_stamp *b)
{
    return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino && a->size == b->size
           && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void log_message(const struct acl_state *s, int level, const char *message)
{
    s->host->log(s->plugin, level, message);
}

/* Called with the lock held: at most once a second, stat the file and re-read it if it changed.
 * A file that fails to parse leaves the current rules in force. */
static void clear_cache(struct acl_state *s)
{
    size_t i;
    for (i = 0; i < DECISION_CACHE_SLOTS; i++) {
        free(s->cache[i].key);
        s->cache[i].key = NULL;
        s->cache[i].key_len = 0;
    }
}

/*
 * A monotonic clock for the once-a-second look at the file. This runs on every decision, so take the
 * tick-granular clock where there is one: a few nanoseconds instead of a full clock read.
 */
static long long monotonic_ns(void)
{
    struct timespec now;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
#else
    clock_gettime(CLOCK_MONOTONIC, &now);
#endif
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void maybe_reload(struct acl_state *s)
{
    struct stat st;
    struct file_stamp stamp;
    struct ruleset *fresh;
    char message[800];
    long long now_ns;

    now_ns = monotonic_ns();
    if (now_ns - s->last_check_ns < 1000000000LL) {
        return;
    }
    s->last_check_ns = now_ns;
    if (stat(s->path, &st) != 0) {
        if (!s->stat_failed) {
            snprintf(message, sizeof message, "cannot read acl_file %s (%s); keeping the rules in force",
                     s->path, strerror(errno));
            log_message(s, STARLING_LOG_WARNING, message);
            s->stat_failed = 1;
        }
        return;
    }
    s->stat_failed = 0;
    stamp_of(&st, &stamp);
    if (same_stamp(&stamp, &s->seen)) {
        return;
    }
    {
        /* Take a file only once it has not changed for a second: one being written in place
         * may be caught truncated or half written. Look again the moment it turns a second old. */
        struct timespec wall;
        long long age_ns;
        clock_gettime(CLOCK_REALTIME, &wall);
        age_ns = ((long long)wall.tv_sec - st.st_mtim.tv_sec) * 1000000000LL + (wall.tv_nsec - st.st_mtim.tv_nsec);
        if (age_ns >= 0 && age_ns < 1000000000LL) {
            s->last_check_ns = now_ns - age_ns;
            return;
        }
    }
    s->seen = stamp;
    fresh = parse_file(s->path, message, sizeof message);
    if (fresh == NULL) {
        size_t used = strlen(message);
        snprintf(message + used, sizeof message - used, "; keeping the previous rules");
        log_message(s, STARLING_LOG_ERROR, message);
        return;
    }
    free_ruleset(s->rules);
    s->rules = fresh;
    clear_cache(s);
    snprintf(message, sizeof message, "reloaded %zu rules from %s", fresh->count, s->path);
    log_message(s, STARLING_LOG_INFO, message);
}

/* Appends `text` and its NUL to the key; 0 when the key would not fit. */
static int key_append(char *key, size_t *len, const char *text)
{
    size_t n = strlen(text) + 1;
    if (*len + n > DECISION_KEY_MAX) {
        return 0;
    }
    memcpy(key + *len, text, n);
    *len += n;
    return 1;
}

/* The request as a cache key; 0 when it is too long to cache. */
static size_t request_key(const struct request *r, char *key)
{
    size_t len = 3;
    key[0] = (char)('0' + r->need);
    key[1] = (char)('0' + r->subscribe);
    key[2] = r->username != NULL ? 'u' : 'a';
    if (!key_append(key, &len, r->username != NULL ? r->username : "") || !key_append(key, &len, r->client_id)
        || !key_append(key, &len, r->topic)) {
        return 0;
    }
    return len;
}

/*
 * A hash of the cache key, eight bytes at a time (a byte-at-a-time hash showed up in profiles: it
 * runs on every PUBLISH). Multiply-xorshift mixing; the key's length seeds it.
 */
static unsigned long long key_hash(const char *data, size_t len)
{
    const unsigned long long k = 0x9E3779B97F4A7C15ULL;
    unsigned long long h = len * k, word;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&word, data + i, 8);
        h = (h ^ word) * k;
        h ^= h >> 29;
    }
    if (i < len) {
        word = 0;
        memcpy(&word, data + i, len - i);
        h = (h ^ word) * k;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

/* The rules' answer for `r` (-1: no rule matched), from the cache when it has one. Lock held. */
static int cached_evaluate(struct acl_state *s, const struct request *r)
{
    char key[DECISION_KEY_MAX];
    size_t len = request_key(r, key);
    unsigned long long hash;
    struct cached_decision *slot;
    int decision;
    if (len == 0) {
        return evaluate(s->rules, r);
    }
    hash = key_hash(key, len);
    slot = &s->cache[hash % DECISION_CACHE_SLOTS];
    if (slot->key_len == len && slot->hash == hash && memcmp(slot->key, key, len) == 0) {
        return slot->decision;
    }
    decision = evaluate(s->rules, r);
    free(slot->key);
    slot->key = malloc(len);
    slot->key_len = 0;
    if (slot->key != NULL) {
        memcpy(slot->key, key, len);
        slot->key_len = len;
        slot->hash = hash;
        slot->decision = decision;
    }
    return decision;
}

static int decide(struct acl_state *s, struct request *r)
{
    int decision;
    pthread_mutex_lock(&s->lock);
    maybe_reload(s);
    decision = cached_evaluate(s, r);
    pthread_mutex_unlock(&s->lock);
    return decision < 0 ? s->no_match : decision;
}

/* ---------------------------------------------------------------------------------------------
 * Hooks and entry points
 * ------------------------------------------------------------------------------------------- */

static int on_authorize_publish(void *event_data, void *user_data)
{
    const starling_authorize_publish_event *event = event_data;
    struct request r;
    r.client_id = event->client_id;
    r.username = event->username;
    r.topic = event->topic;
    r.need = ACC_WRITE;
    r.subscribe = 0;
    return decide(user_data, &r);
}

static int on_authorize_subscribe(void *event_data, void *user_data)
{
    const starling_authorize_subscribe_event *event = event_data;
    struct request r;
    const char *filter = event->filter;
    if (strncmp(filter, "$share/", 7) == 0 && strchr(filter + 7, '/') != NULL) {
        filter = strchr(filter + 7, '/') + 1; /* the ACL speaks of the topics, not the group */
    }
    r.client_id = event->client_id;
    r.username = event->username;
    r.topic = filter;
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
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free_ruleset(s->rules);
        free(s->path);
        free(s);
        return 3;
    }
    s->last_check_ns = monotonic_ns();
    if (host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_PUBLISH, on_authorize_publish,
                            STARLING_PRIORITY_DEFAULT, s) != STARLING_OK
        || host->register_hook(plugin, STARLING_HOOK_AUTHORIZE_SUBSCRIBE, on_authorize_subscribe,
                               STARLING_PRIORITY_DEFAULT, s) != STARLING_OK) {
        pthread_mutex_destroy(&s->lock);
        free_ruleset(s->rules);
        free(s->path);
        free(s);
        return 5;
    }
    snprintf(message, sizeof message, "loaded %zu rules from %s (no_match %s)", s->rules->count, path,
             s->no_match == STARLING_ALLOW ? "allow" : s->no_match == STARLING_IGNORE ? "ignore" : "deny");
    log_message(s, STARLING_LOG_INFO, message);
    *user_data = s;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    struct acl_state *s = user_data;
    (void)plugin;
    pthread_mutex_destroy(&s->lock);
    free_ruleset(s->rules);
    clear_cache(s);
    free(s->path);
    free(s);
    return 0;
}
