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
 * Addresses
 * ------------------------------------------------------------------------------------------- */

/* A client's address, as far as the rules are concerned. */
struct peer {
    int family; /* 4 or 6; 0: unknown, which no address block matches */
    unsigned char bytes[16];
};

/* ::ffff:a.b.c.d, the form in which a dual-stack (IPv6) socket reports an IPv4 client. */
static int is_v4_mapped(const unsigned char *bytes)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(bytes, mapped, sizeof mapped) == 0;
}

/*
 * Reads one NETWORK of an `address` line: an IPv4 or IPv6 address as inet_pton reads it, optionally
 * followed by /PREFIX (decimal, 0..32 or 0..128; without it, the one address). Host bits beyond the
 * prefix are cleared: 10.1.2.3/8 is 10.0.0.0/8. An IPv4-mapped network with a prefix of 96 or more
 * is the IPv4 network it maps (::ffff:10.0.0.0/104 is 10.0.0.0/8), as mapped peers are taken as IPv4.
 * Returns 0, or writes the problem into `err`.
 */
static int parse_network(const char *word, struct network *n, char *err, size_t errsize)
{
    char text[INET6_ADDRSTRLEN];
    const char *slash = strchr(word, '/');
    size_t len = slash != NULL ? (size_t)(slash - word) : strlen(word), i;
    unsigned int max;

    memset(n, 0, sizeof *n);
    if (len < sizeof text) {
        memcpy(text, word, len);
        text[len] = '\0';
        if (inet_pton(AF_INET, text, n->bytes) == 1) {
            n->family = 4;
        } else if (inet_pton(AF_INET6, text, n->bytes) == 1) {
            n->family = 6;
        }
    }
    if (n->family == 0) {
        snprintf(err, errsize, "invalid address \"%.64s\" (an IPv4 or IPv6 address, optionally /PREFIX)", word);
        return -1;
    }
    max = n->family == 4 ? 32 : 128;
    n->prefix = max;
    if (slash != NULL) {
        const char *digit = slash + 1;
        n->prefix = 0;
        /* Stops as soon as the value is too large: no overflow, whatever the line holds. */
        for (; *digit >= '0' && *digit <= '9' && n->prefix <= max; digit++) {
            n->prefix = n->prefix * 10 + (unsigned int)(*digit - '0');
        }
        if (digit == slash + 1 || *digit != '\0' || n->prefix > max) {
            snprintf(err, errsize, "invalid prefix length in \"%.64s\" (0 to %u for an IPv%d address)", word, max,
                     n->family);
            return -1;
        }
    }
    for (i = 0; i < sizeof n->bytes; i++) {
        unsigned int kept = n->prefix > 8 * i ? n->prefix - 8 * (unsigned int)i : 0; /* bits of this byte kept */
        if (kept < 8) {
            n->bytes[i] &= (unsigned char)(0xff00u >> kept);
        }
    }
    if (n->family == 6 && n->prefix >= 96 && is_v4_mapped(n->bytes)) {
        memmove(n->bytes, n->bytes + 12, 4);
        memset(n->bytes + 4, 0, 12);
        n->family = 4;
        n->prefix -= 96;
    }
    return 0;
}

/*
 * Reads the client's address from the event's text: "IP:PORT", IPv6 as "[IP]:PORT" (a zone, as in
 * "[fe80::1%eth0]:PORT", is left out); a bare IP is taken too. The port is not looked at. Anything
 * else, "" included, is unknown. An IPv4-mapped IPv6 address is taken as the IPv4 address. Called on
 * a cache miss only, and only when the rules have address blocks.
 */
static void parse_peer(const char *text, size_t len, struct peer *p)
{
    char ip[INET6_ADDRSTRLEN];
    const char *start = text, *end = text + len, *colon, *zone;

    p->family = 0;
    if (len > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (close == NULL || (close + 1 != end && close[1] != ':')) {
            return;
        }
        start = text + 1;
        end = close;
    } else if ((colon = memchr(text, ':', len)) != NULL
               && memchr(colon + 1, ':', (size_t)(end - colon - 1)) == NULL) {
        end = colon; /* one colon: "IPv4:PORT" (more: a bare IPv6 address) */
    }
    if ((zone = memchr(start, '%', (size_t)(end - start))) != NULL) {
        end = zone;
    }
    if ((size_t)(end - start) >= sizeof ip) {
        return;
    }
    memcpy(ip, start, (size_t)(end - start));
    ip[end - start] = '\0';
    if (inet_pton(AF_INET, ip, p->bytes) == 1) {
        p->family = 4;
    } else if (inet_pton(AF_INET6, ip, p->bytes) == 1) {
        p->family = 6;
        if (is_v4_mapped(p->bytes)) {
            memmove(p->bytes, p->bytes + 12, 4);
            p->family = 4;
        }
    }
}

/* Whether `p` is in `n`: same family, and the first n->prefix bits equal. */
static int network_contains(const struct network *n, const struct peer *p)
{
    size_t whole = n->prefix / 8;
    unsigned int bits = n->prefix % 8;
    return n->family == p->family && memcmp(n->bytes, p->bytes, whole) == 0
           && (bits == 0 || ((n->bytes[whole] ^ p->bytes[whole]) & (0xff00u >> bits) & 0xffu) == 0);
}

/* Whether the block's rules apply to a client at `p`: one of its networks holds it. */
static int block_applies(const struct address_block *block, const struct peer *p)
{
    size_t i;
    for (i = 0; i < block->network_count; i++) {
        if (network_contains(&block->networks[i], p)) {
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------------------------------- */

/* The strings are NUL-terminated; their lengths (without the NUL) come from the event. */
struct request {
    const char *client_id;
    const char *username; /* NULL: anonymous */
    const char *topic;    /* topic name, or the requested filter without $share/GROUP/ */
    const char *peer;     /* "IP:PORT" / "[IPv6]:PORT" as the event gives it; "" when unknown */
    size_t client_id_len, username_len, topic_len, peer_len;
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
    size_t size = strlen(pattern) + 1, ulen = r->username ? r->username_len : 0, clen = r->client_id_len;
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
            size_t value_len = p[1] == 'u' ? ulen : clen;
            if (value == NULL || strpbrk(value, "+#") != NULL) {
                *(value == NULL ? skip : unsafe) = 1;
                free(out);
                return NULL;
            }
            memcpy(o, value, value_len);
            o += value_len;
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

/*
 * ALLOW, DENY, or -1 when no rule matched. The rules that apply to a client: its user block(s) (the
 * anonymous section when it has no username), the address blocks holding its address, and the
 * patterns. Deny rules are looked at first and win.
 */
static int evaluate(const struct ruleset *rs, const struct request *r)
{
    struct peer peer;
    int pass;
    peer.family = 0;
    if (rs->addresses != NULL) {
        parse_peer(r->peer, r->peer_len, &peer);
    }
    for (pass = 1; pass >= 0; pass--) {
        const struct user_block *u;
        const struct address_block *a;
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
        for (a = peer.family != 0 ? rs->addresses : NULL; a != NULL && m == 0; a = a->next) {
            if (block_applies(a, &peer)) {
                m = list_matches(a->rules, r, pass, 0);
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
    while (rs->addresses != NULL) {
        struct address_block *next = rs->addresses->next;
        free_rules(rs->addresses->rules);
        free(rs->addresses->networks);
        free(rs->addresses);
        rs->addresses = next;
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

/* Parses the networks of an `address` line (`rest`: the words after the keyword) into a new block at
 * the end of rs->addresses; its rules go to `*tail`. Returns 0, or writes the problem into `err`. */
static int parse_address_line(char *rest, struct ruleset *rs, struct rule ***tail, char *err, size_t errsize)
{
    struct address_block *block, **end;
    size_t count = 0;
    char *word;
    if (*rest == '\0') {
        snprintf(err, errsize, "address without a network");
        return -1;
    }
    for (word = rest; *word != '\0'; word = skip_blanks(word)) {
        count++;
        while (*word != '\0' && !is_blank(*word)) {
            word++;
        }
    }
    block = calloc(1, sizeof *block);
    if (block == NULL || (block->networks = calloc(count, sizeof *block->networks)) == NULL) {
        free(block);
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    for (word = rest; *word != '\0'; block->network_count++) {
        char *next = cut_word(word);
        if (parse_network(word, &block->networks[block->network_count], err, errsize) != 0) {
            free(block->networks);
            free(block);
            return -1;
        }
        word = next;
    }
    for (end = &rs->addresses; *end != NULL; end = &(*end)->next) {
    }
    *end = block;
    *tail = &block->rules;
    return 0;
}

/* Parses one non-comment line into `rs`; `*tail` is where the next topic rule goes (the anonymous
 * section, or the last user or address block). Returns 0, or writes the problem into `err`. */
static int parse_line(char *line, struct ruleset *rs, struct rule ***tail, char *err, size_t errsize)
{
    char *keyword = line, *rest = cut_word(line);
    if (strcmp(keyword, "address") == 0) {
        return parse_address_line(rest, rs, tail, err, errsize);
    }
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
    /* Mosquitto's keywords only, as before `address` existed: tests/python/test_acl_file.py waits for
     * this message word for word. */
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

/*
 * A monotonic clock for the once-a-second look at the file. This runs on every decision, so take the
 * tick-granular clock where there is one: a few nanoseconds instead of a full clock read.
 */
HOT long long monotonic_ns(void)
{
    struct timespec now;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
#else
    clock_gettime(CLOCK_MONOTONIC, &now);
#endif
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/*
 * The generation word of rules `rs` that follow those of generation `previous`: a new number (counting
 * in twos; wraps after 2^31 reloads, harmless), with GENERATION_BY_ADDRESS set when `rs` has address
 * blocks.
 */
static unsigned int next_generation(unsigned int previous, const struct ruleset *rs)
{
    return ((previous + 2u) & ~GENERATION_BY_ADDRESS) | (rs->addresses != NULL ? GENERATION_BY_ADDRESS : 0u);
}

/* Address blocks need the client's address, which brokers before plugin ABI 1.3 do not pass: say so
 * rather than let the blocks apply to nobody in silence. */
static void warn_if_address_unknown(const struct acl_state *s, const struct ruleset *rs)
{
    char message[800];
    if (rs->addresses != NULL && s->host->abi_minor < 3) {
        snprintf(message, sizeof message,
                 "acl_file %s has address blocks, but this broker (plugin ABI 1.%d) does not pass the client's "
                 "address: they apply to no client (plugin ABI 1.3 is needed)",
                 s->path, (int)s->host->abi_minor);
        log_message(s, STARLING_LOG_WARNING, message);
    }
}

/* Puts `fresh` in force; every thread drops its cached decisions on its next call. Lock held. */
static void replace_rules(struct acl_state *s, struct ruleset *fresh)
{
    free_ruleset(s->rules);
    s->rules = fresh;
    /* Written only here, under the lock: reading it plainly first races with no other writer. */
    __atomic_store_n(&s->generation, next_generation(s->generation, fresh), __ATOMIC_RELEASE);
}

/* Called with the lock held when the look at the file may be due: at most once a second, stat the
 * file and re-read it if it changed. A file that fails to parse leaves the current rules in force. */
static void maybe_reload(struct acl_state *s)
{
    struct stat st;
    struct file_stamp stamp;
    struct ruleset *fresh;
    char message[800];
    long long now_ns;

    now_ns = monotonic_ns();
    if (now_ns < __atomic_load_n(&s->next_check_ns, __ATOMIC_RELAXED)) {
        return; /* another thread looked while this one waited for the lock */
    }
    __atomic_store_n(&s->next_check_ns, now_ns + 1000000000LL, __ATOMIC_RELAXED);
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
            __atomic_store_n(&s->next_check_ns, now_ns - age_ns + 1000000000LL, __ATOMIC_RELAXED);
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
    replace_rules(s, fresh);
    snprintf(message, sizeof message, "reloaded %zu rules from %s", fresh->count, s->path);
    log_message(s, STARLING_LOG_INFO, message);
    warn_if_address_unknown(s, fresh);
}

/* ---------------------------------------------------------------------------------------------
 * The per-thread decision cache
 * ------------------------------------------------------------------------------------------- */

/* What a request asks besides its strings; never 0, which marks an empty slot. */
HOT unsigned int request_what(const struct request *r)
{
    return (unsigned int)r->need | (unsigned int)r->subscribe << 2 | (unsigned int)(r->username != NULL) << 3;
}

HOT uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8); /* one unaligned load */
    return w;
}

HOT uint64_t load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

#define HASH_K 0x9E3779B97F4A7C15ULL

/*
 * Folds `len` bytes at `p` into `h`, a word at a time. The last word overlaps the one before, and
 * short strings are read as two overlapping halves, so there is no byte loop and no variable-length
 * copy. (h ^ word) * K lets every input bit reach the high bits; the caller mixes them down.
 */
HOT uint64_t hash_bytes(uint64_t h, const char *p, size_t len)
{
    if (len > 8) {
        size_t i;
        for (i = 0; i + 8 < len; i += 8) {
            h = (h ^ load64(p + i)) * HASH_K;
        }
        return (h ^ load64(p + len - 8)) * HASH_K;
    }
    if (len >= 4) {
        return (h ^ (load32(p) << 32 | load32(p + len - 4))) * HASH_K;
    }
    if (len > 0) {
        const unsigned char *u = (const unsigned char *)p;
        return (h ^ ((uint64_t)u[0] << 16 | (uint64_t)u[len / 2] << 8 | u[len - 1])) * HASH_K;
    }
    return h;
}

/*
 * The cache hash of a request: topic and client id hashed in place, in two independent chains (the
 * CPU runs them side by side), seeded with the lengths and request_what(). The username and the peer
 * address are not hashed (a client id nearly always implies them) but are compared on a hit.
 */
HOT uint64_t request_hash(const struct request *r, unsigned int what)
{
    uint64_t t = hash_bytes((uint64_t)r->topic_len << 8 | what, r->topic, r->topic_len);
    uint64_t c = hash_bytes((uint64_t)r->client_id_len << 8 | (uint64_t)r->username_len << 32, r->client_id,
                            r->client_id_len);
    uint64_t h = t ^ (c << 32 | c >> 32); /* each chain's well-mixed high half meets the other's low one */
    h ^= h >> 32;
    h *= HASH_K;
    return h ^ (h >> 29);
}

/* The slot `hash` maps to: the high bits, the best mixed. */
HOT struct cached_decision *cache_slot(struct thread_cache *cache, uint64_t hash)
{
    return &cache->slots[hash >> (64 - DECISION_CACHE_BITS)];
}

/* `peer_len`: the bytes of r->peer the key holds - all of them when the rules have address blocks,
 * else 0 (the address is then not part of the request: it cannot change the decision). */
HOT int slot_holds(const struct cached_decision *slot, uint64_t hash, unsigned int what,
                   const struct request *r, size_t peer_len)
{
    return slot->hash == hash && slot->what == what && slot->topic_len == r->topic_len
           && slot->client_id_len == r->client_id_len && slot->username_len == r->username_len
           && slot->peer_len == peer_len
           && memcmp(slot->key, r->topic, r->topic_len) == 0
           && memcmp(slot->key + r->topic_len, r->client_id, r->client_id_len) == 0
           && (r->username_len == 0
               || memcmp(slot->key + r->topic_len + r->client_id_len, r->username, r->username_len) == 0)
           && (peer_len == 0
               || memcmp(slot->key + r->topic_len + r->client_id_len + r->username_len, r->peer, peer_len) == 0);
}

/* Keeps `decision` for `r` (with `peer_len` bytes of its address, see slot_holds) in `slot`; on a
 * failed allocation the slot is left empty. */
static void remember(struct cached_decision *slot, uint64_t hash, unsigned int what, const struct request *r,
                     size_t peer_len, int decision)
{
    size_t len = r->topic_len + r->client_id_len + r->username_len + peer_len;
    slot->what = 0;
    if (slot->key == NULL || slot->key_capacity < len) {
        free(slot->key);
        slot->key = malloc(len + 1); /* never malloc(0): a filled slot always has a key to compare */
        slot->key_capacity = slot->key != NULL ? (uint16_t)len : 0;
        if (slot->key == NULL) {
            return;
        }
    }
    memcpy(slot->key, r->topic, r->topic_len);
    memcpy(slot->key + r->topic_len, r->client_id, r->client_id_len);
    if (r->username_len != 0) {
        memcpy(slot->key + r->topic_len + r->client_id_len, r->username, r->username_len);
    }
    if (peer_len != 0) {
        memcpy(slot->key + r->topic_len + r->client_id_len + r->username_len, r->peer, peer_len);
    }
    slot->hash = hash;
    slot->topic_len = (uint16_t)r->topic_len;
    slot->client_id_len = (uint16_t)r->client_id_len;
    slot->username_len = (uint16_t)r->username_len;
    slot->peer_len = (uint16_t)peer_len;
    slot->decision = (int8_t)decision;
    slot->what = (uint8_t)what;
}

/* Forgets every decision (keeping the key buffers), for rules of `generation`. */
static void empty_cache(struct thread_cache *cache, unsigned int generation)
{
    size_t i;
    for (i = 0; i < DECISION_CACHE_SLOTS; i++) {
        cache->slots[i].what = 0;
    }
    cache->generation = generation;
}

static void free_caches(struct thread_cache *cache)
{
    while (cache != NULL) {
        struct thread_cache *next = cache->next;
        size_t i;
        for (i = 0; i < DECISION_CACHE_SLOTS; i++) {
            free(cache->slots[i].key);
        }
        free(cache);
        cache = next;
    }
}

/* The lock and the key of the per-thread caches; 0, or an error number. */
static int init_sharing(struct acl_state *s)
{
    int error = pthread_mutex_init(&s->lock, NULL);
    if (error == 0 && (error = pthread_key_create(&s->cache_key, NULL)) != 0) {
        pthread_mutex_destroy(&s->lock);
    }
    return error;
}

/* Undoes init_sharing and frees every thread's cache; no callback may be running. */
static void free_sharing(struct acl_state *s)
{
    pthread_key_delete(s->cache_key);
    pthread_mutex_destroy(&s->lock);
    free_caches(s->caches);
    s->caches = NULL;
}

/* A cache for the calling thread, registered with the state; NULL when out of memory. */
static struct thread_cache *new_thread_cache(struct acl_state *s)
{
    struct thread_cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL) {
        return NULL;
    }
    if (pthread_setspecific(s->cache_key, cache) != 0) {
        free(cache);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    cache->next = s->caches;
    s->caches = cache;
    pthread_mutex_unlock(&s->lock);
    return cache;
}

/*
 * The answer for `r`. A hit in the thread's cache costs a coarse clock read, one atomic load and a
 * hash and compare of the request's strings (the peer address only compared, as bytes, and only when
 * the rules have address blocks; it is parsed on a miss, if at all); no lock. A miss (or a look at
 * the file that is due) takes the lock.
 */
static int decide(struct acl_state *s, const struct request *r)
{
    struct thread_cache *cache = pthread_getspecific(s->cache_key);
    struct cached_decision *slot = NULL;
    unsigned int what = request_what(r), generation, seen = 0;
    size_t peer_len = 0;
    uint64_t hash = 0;
    int decision;

    if (monotonic_ns() >= __atomic_load_n(&s->next_check_ns, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&s->lock);
        maybe_reload(s);
        pthread_mutex_unlock(&s->lock);
    }
    if (cache == NULL) {
        cache = new_thread_cache(s);
    }
    if (cache != NULL) {
        seen = __atomic_load_n(&s->generation, __ATOMIC_ACQUIRE);
        peer_len = (seen & GENERATION_BY_ADDRESS) != 0 ? r->peer_len : 0;
        if (r->topic_len + r->client_id_len + r->username_len + peer_len <= DECISION_KEY_MAX) {
            if (cache->generation != seen) {
                empty_cache(cache, seen);
            }
            hash = request_hash(r, what);
            slot = cache_slot(cache, hash);
            if (slot_holds(slot, hash, what, r, peer_len)) {
                return slot->decision < 0 ? s->no_match : slot->decision;
            }
        }
    }
    pthread_mutex_lock(&s->lock);
    generation = s->generation;
    decision = evaluate(s->rules, r);
    pthread_mutex_unlock(&s->lock);
    if (slot != NULL) {
        /* A reload may have come between the look at the generation above and the lock: the
         * decision is one of the rules of `generation`, so the cache must be of that one too. The
         * key was made for the rules of `seen`, though: with or without the address. Keep the
         * decision only if that is still right (a reload that adds or drops the last address block
         * just costs one more miss). */
        if (cache->generation != generation) {
            empty_cache(cache, generation);
        }
        if (((generation ^ seen) & GENERATION_BY_ADDRESS) == 0) {
            remember(slot, hash, what, r, peer_len, decision);
        }
    }
    return decision < 0 ? s->no_match : decision;
}

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
