/*
 * Unit tests of plugins/acl-file: the matcher, the parser and the evaluation, calling its static
 * functions directly (the plugin's source is included). Built and run by AclFilePluginTests.
 * Usage: acl_file_unit SCRATCH_FILE; prints "N checks, M failed" and exits 1 on a failure.
 */
#include "../../../plugins/acl-file/acl_file.c"

#include <limits.h>

static int checks, failures;
static int logged_errors, logged_reloads; /* written only under the plugin's lock */

#define CHECK(cond)                                                          \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

static const char *scratch;

static struct ruleset *parse_text(const char *text, char *err, size_t errsize)
{
    FILE *f = fopen(scratch, "w");
    fputs(text, f);
    fclose(f);
    err[0] = '\0';
    return parse_file(scratch, err, errsize);
}

/* A request as the hooks build it from an event, lengths included. */
static struct request request(const char *user, const char *id, const char *topic, int subscribe)
{
    struct request r;
    r.client_id = id;
    r.username = user;
    r.topic = topic;
    r.client_id_len = strlen(id);
    r.username_len = user != NULL ? strlen(user) : 0;
    r.topic_len = strlen(topic);
    r.need = subscribe ? ACC_READ : ACC_WRITE;
    r.subscribe = subscribe;
    return r;
}

static int ask(const struct ruleset *rs, const char *user, const char *id, const char *topic, int subscribe)
{
    struct request r = request(user, id, topic, subscribe);
    return evaluate(rs, &r);
}

/* Through the state: its thread's cache, then the rules. */
static int decide_for(struct acl_state *s, const char *user, const char *id, const char *topic, int subscribe)
{
    struct request r = request(user, id, topic, subscribe);
    return decide(s, &r);
}

#define PUB(rs, user, id, topic) ask(rs, user, id, topic, 0)
#define SUB(rs, user, id, topic) ask(rs, user, id, topic, 1)
#define NONE (-1)

/* Designated: the table grows at the end with every minor version. */
static void fake_log(starling_plugin *plugin, int32_t level, const char *message);
static const starling_host_api host = {.struct_size = sizeof(starling_host_api), .abi_version = 1,
                                       .broker_version = "test", .log = fake_log};

/* A state as init leaves it, with `text` as the file's rules. */
static void start_state(struct acl_state *s, const char *text)
{
    char err[800];
    struct stat st;
    memset(s, 0, sizeof *s);
    s->host = &host;
    s->path = (char *)scratch;
    s->no_match = STARLING_DENY;
    s->rules = parse_text(text, err, sizeof err);
    if (stat(scratch, &st) == 0) {
        stamp_of(&st, &s->seen);
    }
    CHECK(s->rules != NULL && init_sharing(s) == 0);
    s->next_check_ns = monotonic_ns() + 1000000000LL;
}

static void stop_state(struct acl_state *s)
{
    free_sharing(s);
    free_ruleset(s->rules);
}

static void fake_log(starling_plugin *plugin, int32_t level, const char *message)
{
    (void)plugin;
    if (level == STARLING_LOG_ERROR && strstr(message, "keeping the previous rules") != NULL) {
        logged_errors++;
    } else if (strstr(message, "reloaded ") != NULL) {
        logged_reloads++;
    }
}

/* The calling thread's cache slot for a request, to see what the cache holds. */
static struct cached_decision *slot_for(struct acl_state *s, const char *user, const char *id,
                                        const char *topic, int subscribe)
{
    struct request r = request(user, id, topic, subscribe);
    struct thread_cache *cache = pthread_getspecific(s->cache_key);
    return cache != NULL ? cache_slot(cache, request_hash(&r, request_what(&r))) : NULL;
}

/* Asks once to fill its cache, waits for `go` (the main thread then holds the state's lock), and
 * asks again: a hit must be answered without the lock. */
struct probe {
    struct acl_state *s;
    int first, go, second; /* __atomic */
};

static void *probe_thread(void *arg)
{
    struct probe *p = arg;
    struct timespec breath = {0, 1000000L};
    __atomic_store_n(&p->first, decide_for(p->s, NULL, "p", "flip/x", 0), __ATOMIC_RELEASE);
    while (!__atomic_load_n(&p->go, __ATOMIC_ACQUIRE)) {
        nanosleep(&breath, NULL);
    }
    __atomic_store_n(&p->second, decide_for(p->s, NULL, "p", "flip/x", 0), __ATOMIC_RELEASE);
    return NULL;
}

/* The decision cache: what it keeps apart, that a hit neither reads the rules nor takes the lock,
 * and that a change of rules drops it. The file is never looked at here: the rules are set by hand. */
static void decision_cache(void)
{
    struct acl_state s;
    struct ruleset *mine, *other;
    struct cached_decision *slot;
    struct probe probe;
    pthread_t thread;
    char err[800], topic[DECISION_KEY_MAX + 2];
    int i, wrong = 0;

    start_state(&s, "topic flip/#\n"
                    "user alice\ntopic deny flip/#\ntopic read flip/#\n"
                    "user bobby\ntopic flip/#\n");
    s.next_check_ns = LLONG_MAX;
    CHECK(pthread_getspecific(s.cache_key) == NULL);
    CHECK(decide_for(&s, NULL, "c", "flip/x", 0) == STARLING_ALLOW);
    slot = slot_for(&s, NULL, "c", "flip/x", 0);
    CHECK(slot != NULL && slot->what != 0 && slot->decision == STARLING_ALLOW);
    CHECK(s.caches != NULL && s.caches == pthread_getspecific(s.cache_key) && s.caches->next == NULL);

    /* Kept apart: the username (an empty one is not none; one of the same length is compared, not
     * hashed), the access, the topic. */
    CHECK(decide_for(&s, "alice", "c", "flip/x", 0) == STARLING_DENY);
    CHECK(decide_for(&s, "bobby", "c", "flip/x", 0) == STARLING_ALLOW);
    CHECK(decide_for(&s, "alice", "c", "flip/x", 0) == STARLING_DENY);
    CHECK(decide_for(&s, "", "c", "flip/x", 0) == STARLING_DENY); /* no block for "": no rule */
    CHECK(decide_for(&s, NULL, "c", "flip/x", 1) == STARLING_ALLOW);
    CHECK(decide_for(&s, "alice", "c", "flip/x", 1) == STARLING_DENY);
    CHECK(decide_for(&s, NULL, "c", "flip", 0) == STARLING_ALLOW);
    CHECK(decide_for(&s, NULL, "c", "flop/x", 0) == STARLING_DENY);
    CHECK(decide_for(&s, NULL, "c", "flip/x", 0) == STARLING_ALLOW);
    CHECK(decide_for(&s, "alice", "c", "flip/x", 0) == STARLING_DENY);

    /* A hit does not read the rules: other rules put in behind the cache's back (no new generation)
     * leave a cached answer as it was, and answer what was never asked. */
    other = parse_text("topic deny flip/#\ntopic flop/#\nuser alice\ntopic flip/#\n", err, sizeof err);
    CHECK(other != NULL);
    mine = s.rules;
    s.rules = other;
    CHECK(decide_for(&s, NULL, "c", "flip/x", 0) == STARLING_ALLOW);
    CHECK(decide_for(&s, "alice", "c", "flip/x", 0) == STARLING_DENY);
    CHECK(decide_for(&s, NULL, "c", "flip/y", 0) == STARLING_DENY);
    /* ... except for a request too long to cache: that always asks the rules. */
    memset(topic, 'f', sizeof topic - 1);
    memcpy(topic, "flip/", 5);
    topic[sizeof topic - 1] = '\0';
    CHECK(decide_for(&s, NULL, "c", topic, 0) == STARLING_DENY);
    s.rules = mine;
    CHECK(decide_for(&s, NULL, "c", topic, 0) == STARLING_ALLOW);

    /* A hit takes no lock: another thread is answered while this one holds it. */
    memset(&probe, 0, sizeof probe);
    probe.s = &s;
    pthread_create(&thread, NULL, probe_thread, &probe);
    for (i = 0; i < 2000 && !__atomic_load_n(&probe.first, __ATOMIC_ACQUIRE); i++) {
        struct timespec breath = {0, 1000000L};
        nanosleep(&breath, NULL);
    }
    CHECK(__atomic_load_n(&probe.first, __ATOMIC_ACQUIRE) == STARLING_ALLOW);
    pthread_mutex_lock(&s.lock);
    __atomic_store_n(&probe.go, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 2000 && !__atomic_load_n(&probe.second, __ATOMIC_ACQUIRE); i++) {
        struct timespec breath = {0, 1000000L};
        nanosleep(&breath, NULL);
    }
    CHECK(__atomic_load_n(&probe.second, __ATOMIC_ACQUIRE) == STARLING_ALLOW);
    pthread_mutex_unlock(&s.lock);
    pthread_join(thread, NULL);
    CHECK(s.caches != NULL && s.caches->next != NULL && s.caches->next->next == NULL); /* one per thread */

    /* replace_rules, as a reload does: every cached answer goes. */
    replace_rules(&s, other);
    CHECK(decide_for(&s, NULL, "c", "flip/x", 0) == STARLING_DENY);
    CHECK(decide_for(&s, "alice", "c", "flip/x", 0) == STARLING_ALLOW);
    CHECK(decide_for(&s, NULL, "c", "flop/x", 0) == STARLING_ALLOW);

    /* Many requests over the 256 slots: entries are replaced, key buffers reused at other lengths,
     * and every answer stays right. */
    replace_rules(&s, parse_text("topic write t/+/ok\npattern write id/%c/#\n", err, sizeof err));
    for (i = 0; i < 3000; i++) {
        char id[32], t[64];
        int expected = i % 3 == 1 ? STARLING_DENY : STARLING_ALLOW;
        snprintf(id, sizeof id, "client-%d", i % 700);
        if (i % 3 == 2) {
            snprintf(t, sizeof t, "id/client-%d/x", i % 700);
        } else {
            snprintf(t, sizeof t, "t/%d/%s", i, i % 3 == 0 ? "ok" : "no");
        }
        wrong += decide_for(&s, NULL, id, t, 0) != expected;
        wrong += decide_for(&s, NULL, id, t, 0) != expected;
        expected = i % 700 == 0 ? STARLING_ALLOW : STARLING_DENY;
        wrong += decide_for(&s, NULL, id, "id/client-0/x", 0) != expected;
    }
    CHECK(wrong == 0);
    stop_state(&s);
}

/*
 * The versions of the file concurrent_reloads goes through, one stage each: what it writes (the first
 * is in place at the start), and the answer for "flip/x" while that stage's rules are in force.
 * "both/x" is allowed by every version; a broken version keeps the rules before it.
 */
#define STAGES 4
static const char *const stage_file[STAGES] = {
    "topic both/#\ntopic deny flip/#\n",
    "topic both/x\ntopic flip/#\ntopic nonsense here\n", /* broken: the first stays */
    "topic a/#\ntopic both/+\ntopic flip/#\n",
    "topic both/x\ntopic deny flip/+\n",
};
static const int stage_broken[STAGES] = {0, 1, 0, 0};
static const int stage_flip[STAGES] = {STARLING_DENY, STARLING_DENY, STARLING_ALLOW, STARLING_DENY};

/* __atomic builtins: C99 has no atomics. `phase` is 2 * stage while that stage's rules are in force,
 * odd while the file is being changed (answers then may be either version's). */
static int stop_threads, phase;
static int wrong_answers[4], settled_answers[4][STAGES];

/* Asks for ever while the file changes, each request through its own thread's cache. */
static void *asker(void *arg)
{
    struct acl_state *s = ((void **)arg)[0];
    int index = *(int *)((void **)arg)[1];
    struct request both = request(NULL, "c", "both/x", 0), flip = request(NULL, "c", "flip/x", 0);
    while (!__atomic_load_n(&stop_threads, __ATOMIC_ACQUIRE)) {
        struct timespec breath = {0, 50000L};
        int before = __atomic_load_n(&phase, __ATOMIC_ACQUIRE), flipped;
        if (decide(s, &both) != STARLING_ALLOW) {
            wrong_answers[index]++;
        }
        flipped = decide(s, &flip);
        if (before % 2 == 0 && before == __atomic_load_n(&phase, __ATOMIC_ACQUIRE)) {
            if (flipped != stage_flip[before / 2]) {
                wrong_answers[index]++;
            }
            __atomic_add_fetch(&settled_answers[index][before / 2], 1, __ATOMIC_RELAXED);
        }
        nanosleep(&breath, NULL);
    }
    return NULL;
}

/* Waits (at most 5 s) until every thread has answered a few times in `stage`. */
static int all_answered(int stage)
{
    int tries, i;
    for (tries = 0; tries < 500; tries++) {
        struct timespec pause = {0, 10000000L};
        for (i = 0; i < 4 && __atomic_load_n(&settled_answers[i][stage], __ATOMIC_RELAXED) >= 5; i++) {
        }
        if (i == 4) {
            return 1;
        }
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* Waits (at most 5 s) until the reloads and errors logged (under the plugin's lock) reach these. */
static int logged(struct acl_state *s, int reloads, int errors)
{
    int tries, done = 0;
    for (tries = 0; tries < 500 && !done; tries++) {
        struct timespec pause = {0, 10000000L};
        pthread_mutex_lock(&s->lock);
        done = logged_reloads >= reloads && logged_errors >= errors;
        pthread_mutex_unlock(&s->lock);
        if (!done) {
            nanosleep(&pause, NULL);
        }
    }
    return done;
}

/*
 * Callbacks on several threads while the file is rewritten, broken and fixed: every answer stays
 * right, reloads happen, and a broken version is logged and skipped. Each thread has "flip/x"
 * cached when the rules change, and the next version answers it the other way: a thread that
 * kept its cached answer across a reload would be caught.
 */
static void concurrent_reloads(void)
{
    struct acl_state s;
    pthread_t threads[4];
    void *args[4][2];
    int indexes[4], i, stage, reloads = 0, errors = 0;
    struct request probe[2];
    probe[0] = request(NULL, "c", "both/x", 0);
    probe[1] = request(NULL, "c", "flip/x", 0);
    /* Two slots, or the two would evict each other and never be answered from the cache. */
    CHECK(request_hash(&probe[0], request_what(&probe[0])) >> (64 - DECISION_CACHE_BITS)
          != request_hash(&probe[1], request_what(&probe[1])) >> (64 - DECISION_CACHE_BITS));

    start_state(&s, stage_file[0]);
    for (i = 0; i < 4; i++) {
        indexes[i] = i;
        args[i][0] = &s;
        args[i][1] = &indexes[i];
        pthread_create(&threads[i], NULL, asker, args[i]);
    }
    for (stage = 1; stage < STAGES; stage++) {
        FILE *f;
        CHECK(all_answered(stage - 1));
        __atomic_store_n(&phase, 2 * stage - 1, __ATOMIC_RELEASE);
        f = fopen(scratch, "w");
        fputs(stage_file[stage], f);
        fclose(f);
        /* Taken once a second old, at the first call after that: a reload, or an error. */
        reloads += !stage_broken[stage];
        errors += stage_broken[stage];
        CHECK(logged(&s, reloads, errors));
        __atomic_store_n(&phase, 2 * stage, __ATOMIC_RELEASE);
    }
    CHECK(all_answered(STAGES - 1));
    __atomic_store_n(&stop_threads, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(wrong_answers[i] == 0);
    }
    CHECK(logged_reloads == reloads && reloads == 2);
    CHECK(logged_errors == errors && errors == 1);
    stop_state(&s);
}

int main(int argc, char **argv)
{
    char err[800];
    struct ruleset *rs;
    if (argc != 2) {
        return 2;
    }
    scratch = argv[1];

    /* covers: a topic name or requested filter against an ACL filter */
    CHECK(covers("a/b", "a/b"));
    CHECK(!covers("a/b", "a/c"));
    CHECK(covers("a/+", "a/b"));
    CHECK(!covers("a/+", "a/b/c"));
    CHECK(covers("a/#", "a"));
    CHECK(covers("a/#", "a/b/c"));
    CHECK(covers("#", "a/b"));
    CHECK(!covers("#", "$SYS/x"));
    CHECK(!covers("+/x", "$SYS/x"));
    CHECK(covers("$SYS/#", "$SYS/x"));
    CHECK(covers("a/#", "a/+/b"));
    CHECK(covers("a/+", "a/+"));
    CHECK(!covers("a/+", "a/#"));
    CHECK(!covers("a/b", "a/+"));
    CHECK(!covers("a/b", "a/#"));
    CHECK(covers("+/+", "a/b"));
    CHECK(!covers("a/b/c", "a/b"));
    CHECK(covers("a//b", "a//b"));
    CHECK(covers("+/b", "/b"));
    /* overlaps: deny rules at subscribe time */
    CHECK(overlaps("secret/#", "#"));
    CHECK(overlaps("secret/x", "+/x"));
    CHECK(!overlaps("secret/x", "+/y"));
    CHECK(!overlaps("#", "$SYS/#"));
    CHECK(overlaps("a/#", "a"));
    /* valid_filter */
    CHECK(valid_filter("a/+/#"));
    CHECK(!valid_filter("a/b+"));
    CHECK(!valid_filter("a/#/b"));
    CHECK(!valid_filter(""));

    /* parser: comments, blanks, access words, a topic with spaces, user blocks, patterns */
    rs = parse_text("# comment\n\n  topic read public/#\ntopic write in/#\ntopic open\n"
                    "topic readwrite with space/x y\r\n"
                    "user alice\ntopic alice/#\ntopic deny alice/secret\npattern write dev/%u/%c\n"
                    "user bob smith\ntopic read bob/#\n"
                    "pattern read all/%c/#\npattern deny all/x/#\npattern write id-%c/%u-in\n",
                    err, sizeof err);
    CHECK(rs != NULL);
    if (rs == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    CHECK(rs->count == 11);
    /* anonymous: topic lines before the first user line, and patterns without %u */
    CHECK(SUB(rs, NULL, "c1", "public/a") == STARLING_ALLOW);
    CHECK(PUB(rs, NULL, "c1", "public/a") == NONE);
    CHECK(PUB(rs, NULL, "c1", "in/a") == STARLING_ALLOW);
    CHECK(SUB(rs, NULL, "c1", "in/a") == NONE);
    CHECK(PUB(rs, NULL, "c1", "open") == STARLING_ALLOW);
    CHECK(SUB(rs, NULL, "c1", "open") == STARLING_ALLOW);
    CHECK(PUB(rs, NULL, "c1", "with space/x y") == STARLING_ALLOW);
    CHECK(SUB(rs, NULL, "c1", "all/c1/x") == STARLING_ALLOW);
    CHECK(SUB(rs, NULL, "c2", "all/c1/x") == NONE);
    CHECK(PUB(rs, NULL, "c1", "dev/c1/c1") == NONE); /* %u never matches an anonymous client */
    /* alice: her block, not the anonymous lines */
    CHECK(PUB(rs, "alice", "c1", "public/a") == NONE);
    CHECK(PUB(rs, "alice", "c1", "alice/x") == STARLING_ALLOW);
    CHECK(PUB(rs, "alice", "c1", "alice/secret") == STARLING_DENY);
    CHECK(SUB(rs, "alice", "c1", "alice/#") == STARLING_DENY); /* could receive alice/secret */
    CHECK(SUB(rs, "alice", "c1", "alice/+/x") == STARLING_ALLOW);
    CHECK(PUB(rs, "alice", "c9", "dev/alice/c9") == STARLING_ALLOW);
    CHECK(PUB(rs, "bob smith", "c9", "dev/bob smith/c9") == STARLING_ALLOW); /* patterns: every user */
    CHECK(PUB(rs, "alice", "c9", "dev/alice/c8") == NONE);
    CHECK(PUB(rs, "alice", "c9", "dev/bob/c9") == NONE);
    CHECK(SUB(rs, "bob smith", "c1", "bob/+") == STARLING_ALLOW);
    CHECK(PUB(rs, "bob smith", "c1", "bob/x") == NONE);
    CHECK(SUB(rs, "bob", "c1", "bob/x") == NONE);
    /* deny over allow, also from a pattern */
    CHECK(SUB(rs, "alice", "x", "all/x/y") == STARLING_DENY);
    CHECK(SUB(rs, "alice", "y", "all/y/z") == STARLING_ALLOW);
    /* substituted inside a level too, as Mosquitto does */
    CHECK(PUB(rs, "al", "d1", "id-d1/al-in") == STARLING_ALLOW);
    CHECK(PUB(rs, "al", "d1", "id-d2/al-in") == NONE);
    CHECK(PUB(rs, NULL, "d1", "id-d1/-in") == NONE);
    /* a wildcard in the substituted value refuses outright */
    CHECK(PUB(rs, "a+", "c1", "dev/a+/c1") == STARLING_DENY);
    CHECK(SUB(rs, NULL, "#", "all/#/x") == STARLING_DENY);
    free_ruleset(rs);

    /* errors name the line */
    CHECK(parse_text("topic read a\ntopic reed a/b\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 2: unknown access \"reed\"") != NULL);
    CHECK(parse_text("# x\nuser\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 2: user without a name") != NULL);
    CHECK(parse_text("topic a/#/b\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 1: invalid topic filter \"a/#/b\"") != NULL);
    CHECK(parse_text("\n\n\nallow a\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 4: unknown keyword \"allow\"") != NULL);
    CHECK(parse_text("topic\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "line 1: topic line without a topic filter") != NULL);
    rs = parse_text("", err, sizeof err);
    CHECK(rs != NULL && rs->count == 0 && SUB(rs, NULL, "c", "a") == NONE);
    free_ruleset(rs);

    decision_cache();
    concurrent_reloads();

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
