/*
 * Unit tests of plugins/acl-file: the matcher, the parser and the evaluation, calling its static
 * functions directly (the plugin's source is included). Built and run by AclFilePluginTests.
 * Usage: acl_file_unit SCRATCH_FILE; prints "N checks, M failed" and exits 1 on a failure.
 */
#include "../../../plugins/acl-file/acl_file.c"

#include <limits.h>

static int checks, failures;
static int logged_errors, logged_reloads; /* written only under the plugin's lock */
static int logged_address_warnings;       /* written by the main thread only */

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

/* A request as the hooks build it from an event, lengths included; from `peer` ("" unknown). */
static struct request request_at(const char *user, const char *id, const char *topic, int subscribe,
                                 const char *peer)
{
    struct request r;
    r.client_id = id;
    r.username = user;
    r.topic = topic;
    r.peer = peer;
    r.client_id_len = strlen(id);
    r.username_len = user != NULL ? strlen(user) : 0;
    r.topic_len = strlen(topic);
    r.peer_len = strlen(peer);
    r.need = subscribe ? ACC_READ : ACC_WRITE;
    r.subscribe = subscribe;
    return r;
}

/* ... from an unknown address, as from a broker before ABI 1.3. */
static struct request request(const char *user, const char *id, const char *topic, int subscribe)
{
    return request_at(user, id, topic, subscribe, "");
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
    if (s->rules != NULL) {
        s->generation = next_generation(0, s->rules);
    }
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
    } else if (level == STARLING_LOG_WARNING && strstr(message, "has address blocks") != NULL) {
        logged_address_warnings++;
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

/* ---------------------------------------------------------------------------------------------
 * address blocks (our extension; the client's address comes with ABI 1.3)
 * ------------------------------------------------------------------------------------------- */

#define PUB_AT(rs, user, id, topic, peer) ask_at(rs, user, id, topic, 0, peer)
#define SUB_AT(rs, user, id, topic, peer) ask_at(rs, user, id, topic, 1, peer)

static int ask_at(const struct ruleset *rs, const char *user, const char *id, const char *topic, int subscribe,
                  const char *peer)
{
    struct request r = request_at(user, id, topic, subscribe, peer);
    return evaluate(rs, &r);
}

static int decide_at(struct acl_state *s, const char *user, const char *id, const char *topic, int subscribe,
                     const char *peer)
{
    struct request r = request_at(user, id, topic, subscribe, peer);
    return decide(s, &r);
}

/* Whether `n` is the network `text`/`prefix` of `family` (4 or 6). */
static int network_is(const struct network *n, int family, const char *text, unsigned int prefix)
{
    unsigned char bytes[16] = {0};
    return n->family == family && n->prefix == prefix
           && inet_pton(family == 4 ? AF_INET : AF_INET6, text, bytes) == 1
           && memcmp(n->bytes, bytes, sizeof bytes) == 0;
}

/* Whether the first `len` bytes of `text` read as a peer of `family` (0: unknown) at `ip`. */
static int peer_is(const char *text, size_t len, int family, const char *ip)
{
    struct peer p;
    unsigned char bytes[16] = {0};
    memset(&p, 0xaa, sizeof p);
    parse_peer(text, len, &p);
    if (family == 0) {
        return p.family == 0;
    }
    return p.family == family && inet_pton(family == 4 ? AF_INET : AF_INET6, ip, bytes) == 1
           && memcmp(p.bytes, bytes, family == 4 ? 4 : 16) == 0;
}

#define PEER_IS(text, family, ip) peer_is(text, strlen(text), family, ip)

/* 1 when the peer `peer` (as an event gives it) is in `network` (as an address line gives it), 0 when
 * not, -1 when the network does not parse. */
static int in_network(const char *network, const char *peer)
{
    struct network n;
    struct peer p;
    char err[200];
    if (parse_network(network, &n, err, sizeof err) != 0) {
        return -1;
    }
    parse_peer(peer, strlen(peer), &p);
    return network_contains(&n, &p);
}

/* `address` lines: the blocks and networks they make, the lines that go in them, and the errors. */
static void address_parsing(void)
{
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"address\n", "line 1: address without a network"},
        {"topic a\n\naddress \t \n", "line 3: address without a network"},
        {"address 10.0.0.0/33\n", "line 1: invalid prefix length in \"10.0.0.0/33\" (0 to 32 for an IPv4 address)"},
        {"address ::/129\n", "line 1: invalid prefix length in \"::/129\" (0 to 128 for an IPv6 address)"},
        {"address 1.2.3\n", "line 1: invalid address \"1.2.3\" (an IPv4 or IPv6 address, optionally /PREFIX)"},
        {"address 10.0.0.0/\n", "line 1: invalid prefix length in \"10.0.0.0/\""},
        {"address 10.0.0.0/8x\n", "line 1: invalid prefix length in \"10.0.0.0/8x\""},
        {"address 10.0.0.0/-8\n", "line 1: invalid prefix length in \"10.0.0.0/-8\""},
        {"address 10.0.0.0/+8\n", "line 1: invalid prefix length in \"10.0.0.0/+8\""},
        {"address 10.0.0.0//8\n", "line 1: invalid prefix length in \"10.0.0.0//8\""},
        {"address 10.0.0.0/8/8\n", "line 1: invalid prefix length in \"10.0.0.0/8/8\""},
        {"address 10.0.0.0/99999999999999999999999999\n", "line 1: invalid prefix length in \"10.0.0.0/9999"},
        {"address 256.0.0.0\n", "line 1: invalid address \"256.0.0.0\""},
        {"address 10.0.0.0.0/8\n", "line 1: invalid address \"10.0.0.0.0/8\""},
        {"address [::1]\n", "line 1: invalid address \"[::1]\""},
        {"address fe80::1%eth0\n", "line 1: invalid address \"fe80::1%eth0\""},
        {"address localhost\n", "line 1: invalid address \"localhost\""},
        {"address /8\n", "line 1: invalid address \"/8\""},
        {"address 2001:db8:::1/32\n", "line 1: invalid address \"2001:db8:::1/32\""},
        {"address 10.0.0.0/8,10.1.0.0/16\n", "line 1: invalid prefix length in \"10.0.0.0/8,10.1.0.0/16\""},
        {"user a\ntopic x\n\n# the second network is bad\naddress 10.0.0.0/8 2001:db8::/32 nonsense\ntopic y\n",
         "line 5: invalid address \"nonsense\""},
        {"address 10.0.0.0/8\ntopic reed x\n", "line 2: unknown access \"reed\""},
        {"address 10.0.0.0/8\ntopic a/#/b\n", "line 2: invalid topic filter \"a/#/b\""},
        {"address 10.0.0.0/8\ntopic\n", "line 2: topic line without a topic filter"},
    };
    char err[800], line[400];
    struct ruleset *rs;
    struct address_block *b;
    size_t i;

    rs = parse_text("topic read before/#\n"
                    "address 10.0.0.0/8\n"
                    "topic write ten/#\n"
                    "pattern write pat/%c\n" /* global, wherever it is */
                    "address\t192.168.1.7  2001:db8::/32 ::1\t0.0.0.0/0 ::/0 10.1.2.3/32 ::2/128\n"
                    "topic deny many/#\n"
                    "user alice\n"
                    "topic alice/#\n"
                    "address ::ffff:10.0.0.0/104 10.1.2.3/8 2001:db8:ffff::1/33 ::ffff:1.2.3.4 ::ffff:0:0/96 "
                    "::ffff:0:0/95 0.0.0.0/000032\n",
                    err, sizeof err);
    CHECK(rs != NULL);
    if (rs == NULL) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(rs->count == 5);
    /* a topic line before any block: the anonymous section; a user line ends an address block */
    CHECK(rs->anonymous != NULL && strcmp(rs->anonymous->filter, "before/#") == 0 && rs->anonymous->next == NULL);
    CHECK(rs->patterns != NULL && strcmp(rs->patterns->filter, "pat/%c") == 0 && rs->patterns->next == NULL);
    CHECK(rs->users != NULL && rs->users->rules != NULL && strcmp(rs->users->rules->filter, "alice/#") == 0
          && rs->users->rules->next == NULL && rs->users->next == NULL);
    b = rs->addresses;
    CHECK(b != NULL && b->network_count == 1 && network_is(&b->networks[0], 4, "10.0.0.0", 8));
    CHECK(b != NULL && b->rules != NULL && b->rules->access == ACC_WRITE && strcmp(b->rules->filter, "ten/#") == 0
          && b->rules->next == NULL);
    b = b != NULL ? b->next : NULL;
    /* several networks, blanks of either kind, /0 /32 /128 and none */
    CHECK(b != NULL && b->network_count == 7);
    if (b != NULL && b->network_count == 7) {
        CHECK(network_is(&b->networks[0], 4, "192.168.1.7", 32));
        CHECK(network_is(&b->networks[1], 6, "2001:db8::", 32));
        CHECK(network_is(&b->networks[2], 6, "::1", 128));
        CHECK(network_is(&b->networks[3], 4, "0.0.0.0", 0));
        CHECK(network_is(&b->networks[4], 6, "::", 0));
        CHECK(network_is(&b->networks[5], 4, "10.1.2.3", 32));
        CHECK(network_is(&b->networks[6], 6, "::2", 128));
        CHECK(b->rules != NULL && b->rules->access == ACC_DENY && strcmp(b->rules->filter, "many/#") == 0
              && b->rules->next == NULL);
    }
    b = b != NULL ? b->next : NULL;
    /* a block without rules; host bits cleared; the IPv4-mapped form is the IPv4 network from /96 on */
    CHECK(b != NULL && b->network_count == 7 && b->rules == NULL && b->next == NULL);
    if (b != NULL && b->network_count == 7) {
        CHECK(network_is(&b->networks[0], 4, "10.0.0.0", 8));
        CHECK(network_is(&b->networks[1], 4, "10.0.0.0", 8));
        CHECK(network_is(&b->networks[2], 6, "2001:db8:8000::", 33));
        CHECK(network_is(&b->networks[3], 4, "1.2.3.4", 32));
        CHECK(network_is(&b->networks[4], 4, "0.0.0.0", 0));
        CHECK(network_is(&b->networks[5], 6, "::fffe:0:0", 95));
        CHECK(network_is(&b->networks[6], 4, "0.0.0.0", 32));
    }
    free_ruleset(rs);

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rs = parse_text(bad[i].text, err, sizeof err);
        CHECK(rs == NULL && strstr(err, bad[i].message) != NULL);
        if (rs != NULL || strstr(err, bad[i].message) == NULL) {
            fprintf(stderr, "  for %s  got: %s\n", bad[i].text, err);
        }
        free_ruleset(rs);
    }
    /* a long word is cut short in the message */
    memset(line, '1', sizeof line - 2);
    memcpy(line, "address ", 8);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = '\0';
    CHECK(parse_text(line, err, sizeof err) == NULL && strstr(err, "line 1: invalid address \"1111") != NULL
          && strlen(err) < 300);

    /* the client's address from the event */
    CHECK(PEER_IS("10.1.2.3:1883", 4, "10.1.2.3"));
    CHECK(PEER_IS("[2001:db8::1]:1883", 6, "2001:db8::1"));
    CHECK(PEER_IS("[::ffff:10.1.2.3]:50000", 4, "10.1.2.3"));
    CHECK(PEER_IS("[::ffff:a01:203]:1", 4, "10.1.2.3"));
    CHECK(PEER_IS("[fe80::1%eth0]:1883", 6, "fe80::1"));
    CHECK(PEER_IS("[::1]:1", 6, "::1"));
    CHECK(PEER_IS("10.1.2.3", 4, "10.1.2.3"));
    CHECK(PEER_IS("2001:db8::1", 6, "2001:db8::1"));
    CHECK(PEER_IS("[::1]", 6, "::1"));
    CHECK(PEER_IS("", 0, NULL));
    CHECK(PEER_IS("unknown", 0, NULL));
    CHECK(PEER_IS("[::1", 0, NULL));
    CHECK(PEER_IS("[::1]1883", 0, NULL));
    CHECK(PEER_IS("1.2.3:80", 0, NULL));
    CHECK(PEER_IS("host.example:1883", 0, NULL));
    CHECK(PEER_IS("[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb]:1", 0, NULL));
    CHECK(peer_is("10.1.2.34:1", 8, 4, "10.1.2.3")); /* the length counts, not the NUL */
    CHECK(peer_is("[::1]:1", 0, 0, NULL));

    /* which networks hold which peers */
    CHECK(in_network("10.0.0.0/8", "10.255.1.2:1") == 1);
    CHECK(in_network("10.0.0.0/8", "11.0.0.0:1") == 0);
    CHECK(in_network("10.0.0.0/8", "9.255.255.255:1") == 0);
    CHECK(in_network("10.128.0.0/9", "10.128.0.1:1") == 1);
    CHECK(in_network("10.128.0.0/9", "10.127.255.255:1") == 0);
    CHECK(in_network("192.168.1.7", "192.168.1.7:1") == 1);
    CHECK(in_network("192.168.1.7/32", "192.168.1.6:1") == 0);
    CHECK(in_network("0.0.0.0/0", "1.2.3.4:1") == 1);
    CHECK(in_network("0.0.0.0/0", "[2001:db8::1]:1") == 0); /* IPv4 networks hold IPv4 peers only */
    CHECK(in_network("::/0", "[2001:db8::1]:1") == 1);
    CHECK(in_network("::/0", "1.2.3.4:1") == 0);
    CHECK(in_network("::/0", "[::ffff:1.2.3.4]:1") == 0); /* a mapped peer is an IPv4 one */
    CHECK(in_network("0.0.0.0/0", "[::ffff:1.2.3.4]:1") == 1);
    CHECK(in_network("10.0.0.0/8", "[::ffff:10.1.2.3]:1") == 1);
    CHECK(in_network("10.0.0.0/8", "[::ffff:11.1.2.3]:1") == 0);
    CHECK(in_network("::ffff:10.0.0.0/104", "10.1.2.3:1") == 1);
    CHECK(in_network("::1", "[::1]:1") == 1);
    CHECK(in_network("::1/128", "[::2]:1") == 0);
    CHECK(in_network("127.0.0.1", "[::1]:1") == 0);
    CHECK(in_network("2001:db8::/32", "[2001:db8:ffff::1]:1") == 1);
    CHECK(in_network("2001:db8::/32", "[2001:db9::1]:1") == 0);
    CHECK(in_network("2001:db8::/127", "[2001:db8::1]:1") == 1);
    CHECK(in_network("2001:db8::/127", "[2001:db8::2]:1") == 0);
    CHECK(in_network("0.0.0.0/0", "") == 0); /* unknown: in no network */
    CHECK(in_network("::/0", "") == 0);
    CHECK(in_network("0.0.0.0/0", "garbage") == 0);
}

/* Address blocks in the evaluation: with the user's rules, the patterns, deny over allow. */
static void address_evaluation(void)
{
    static const char *const peers[] = {"", "10.1.2.3:1883", "[2001:db8::1]:1", "[::ffff:10.1.2.3]:1", "x"};
    static const char *const users[] = {NULL, "alice", "bob"};
    static const char *const topics[] = {"public/a", "in/a", "alice/x", "alice/secret", "dev/alice/c1", "all/c1/x",
                                         "all/x/y", "#", "alice/#"};
    char err[800];
    struct ruleset *rs;
    size_t p, u, t;
    int subscribe, differ = 0;

    rs = parse_text("topic read public/#\n"
                    "address 10.0.0.0/8 192.168.1.7\n"
                    "topic write plant/#\n"
                    "topic deny plant/secret/#\n"
                    "address 2001:db8::/32\n"
                    "topic readwrite v6/#\n"
                    "pattern write dev/%c\n"
                    "user alice\n"
                    "topic readwrite plant/#\n"
                    "topic readwrite alice/#\n"
                    "address 0.0.0.0/0\n"
                    "topic deny alice/private\n",
                    err, sizeof err);
    CHECK(rs != NULL);
    if (rs == NULL) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    /* the same request allowed from one address and not from another */
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "10.1.2.3:1883") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "11.1.2.3:1883") == NONE);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "192.168.1.7:40000") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "192.168.1.8:40000") == NONE);
    CHECK(SUB_AT(rs, NULL, "c", "plant/x", "10.1.2.3:1883") == NONE); /* write only */
    /* anonymous and named clients alike */
    CHECK(PUB_AT(rs, "bob", "c", "plant/x", "10.1.2.3:1883") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, "bob", "c", "plant/x", "11.1.2.3:1883") == NONE);
    /* ... in addition to their own: the anonymous section stays anonymous, alice keeps hers */
    CHECK(SUB_AT(rs, NULL, "c", "public/a", "10.1.2.3:1883") == STARLING_ALLOW);
    CHECK(SUB_AT(rs, "bob", "c", "public/a", "10.1.2.3:1883") == NONE);
    CHECK(PUB_AT(rs, "alice", "c", "alice/x", "11.1.2.3:1") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, "alice", "c", "plant/x", "11.1.2.3:1") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, NULL, "c", "alice/x", "10.1.2.3:1") == NONE);
    /* a deny of an address block beats an allow of the user block, also at subscribe time */
    CHECK(PUB_AT(rs, "alice", "c", "plant/secret/x", "10.1.2.3:1") == STARLING_DENY);
    CHECK(PUB_AT(rs, "alice", "c", "plant/secret/x", "11.1.2.3:1") == STARLING_ALLOW);
    CHECK(SUB_AT(rs, "alice", "c", "plant/#", "10.1.2.3:1") == STARLING_DENY); /* could receive plant/secret/... */
    CHECK(SUB_AT(rs, "alice", "c", "plant/#", "11.1.2.3:1") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, "alice", "c", "alice/private", "11.1.2.3:1") == STARLING_DENY);
    CHECK(PUB_AT(rs, "alice", "c", "alice/private", "10.1.2.3:1") == STARLING_DENY); /* two blocks apply */
    CHECK(PUB_AT(rs, "alice", "c", "alice/private", "[2001:db9::1]:1") == STARLING_ALLOW); /* 0.0.0.0/0: IPv4 */
    /* IPv6, and IPv4-mapped IPv6 peers */
    CHECK(PUB_AT(rs, NULL, "c", "v6/x", "[2001:db8::5]:1") == STARLING_ALLOW);
    CHECK(SUB_AT(rs, NULL, "c", "v6/#", "[2001:db8:1::5]:1") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, NULL, "c", "v6/x", "[2001:db9::5]:1") == NONE);
    CHECK(PUB_AT(rs, NULL, "c", "v6/x", "10.1.2.3:1") == NONE);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "[::ffff:10.1.2.3]:1") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "[::ffff:192.168.1.7]:1") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "[::ffff:11.1.2.3]:1") == NONE);
    CHECK(PUB_AT(rs, "alice", "c", "plant/secret/x", "[::ffff:10.9.9.9]:1") == STARLING_DENY);
    /* an unknown address (or one that does not parse) is in no block; the rest works as ever */
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "") == NONE);
    CHECK(PUB_AT(rs, NULL, "c", "plant/x", "not an address") == NONE);
    CHECK(PUB_AT(rs, "alice", "c", "plant/secret/x", "") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, "alice", "c", "alice/private", "") == STARLING_ALLOW);
    CHECK(SUB_AT(rs, NULL, "c", "public/a", "") == STARLING_ALLOW);
    /* a pattern line inside an address block is global */
    CHECK(PUB_AT(rs, NULL, "d1", "dev/d1", "") == STARLING_ALLOW);
    CHECK(PUB_AT(rs, "bob", "d1", "dev/d1", "11.1.2.3:1") == STARLING_ALLOW);
    free_ruleset(rs);

    /* The example of README.md, "Rules by client address". */
    rs = parse_text("# Everybody may read the public topics; the operator may do anything under plant/.\n"
                    "topic read public/#\nuser operator\ntopic readwrite plant/#\n\n"
                    "address 10.20.0.0/16 fd00:20::/64\ntopic write plant/measurements/#\n\n"
                    "address 10.99.0.0/16\ntopic deny plant/#\n",
                    err, sizeof err);
    CHECK(rs != NULL);
    if (rs != NULL) {
        CHECK(PUB_AT(rs, NULL, "m1", "plant/measurements/t", "10.20.1.5:40000") == STARLING_ALLOW);
        CHECK(PUB_AT(rs, "anyone", "m1", "plant/measurements/t", "[fd00:20::5]:40000") == STARLING_ALLOW);
        CHECK(PUB_AT(rs, NULL, "m1", "plant/measurements/t", "10.21.1.5:40000") == NONE);
        CHECK(SUB_AT(rs, NULL, "m1", "public/news", "10.21.1.5:40000") == STARLING_ALLOW);
        CHECK(PUB_AT(rs, "operator", "op", "plant/x", "10.20.1.5:40000") == STARLING_ALLOW);
        CHECK(PUB_AT(rs, "operator", "op", "plant/x", "10.99.3.4:40000") == STARLING_DENY);
        CHECK(SUB_AT(rs, "operator", "op", "plant/#", "10.99.3.4:40000") == STARLING_DENY);
        CHECK(SUB_AT(rs, "operator", "op", "plant/#", "10.20.1.5:40000") == STARLING_ALLOW);
        free_ruleset(rs);
    }

    /* Without address lines the address changes nothing (the file of main's parser test). */
    rs = parse_text("topic read public/#\ntopic write in/#\nuser alice\ntopic alice/#\ntopic deny alice/secret\n"
                    "pattern write dev/%u/%c\npattern read all/%c/#\npattern deny all/x/#\n",
                    err, sizeof err);
    CHECK(rs != NULL && rs->addresses == NULL);
    for (p = 1; rs != NULL && p < sizeof peers / sizeof peers[0]; p++) {
        for (u = 0; u < sizeof users / sizeof users[0]; u++) {
            for (t = 0; t < sizeof topics / sizeof topics[0]; t++) {
                for (subscribe = 0; subscribe < 2; subscribe++) {
                    differ += ask_at(rs, users[u], "c1", topics[t], subscribe, peers[p])
                              != ask_at(rs, users[u], "c1", topics[t], subscribe, "");
                }
            }
        }
    }
    CHECK(differ == 0);
    free_ruleset(rs);
}

/* Puts `text` in force as a reload does (under the lock, a new generation). */
static void reload_text(struct acl_state *s, const char *text)
{
    char err[800];
    struct ruleset *fresh = parse_text(text, err, sizeof err);
    CHECK(fresh != NULL);
    if (fresh != NULL) {
        pthread_mutex_lock(&s->lock);
        replace_rules(s, fresh);
        pthread_mutex_unlock(&s->lock);
    }
}

/*
 * The decision cache with address blocks: the address is part of the key then (and only then), so
 * two clients with the same client id and topic from different addresses are answered each for its
 * own; without address blocks it stays out of the key.
 */
static void address_cache(void)
{
    struct acl_state s;
    struct ruleset *mine, *other;
    struct cached_decision *slot;
    char err[800], topic[DECISION_KEY_MAX];
    int i, wrong = 0;

    /* No address blocks: the address is not in the key ... */
    start_state(&s, "topic plant/#\n");
    s.next_check_ns = LLONG_MAX;
    CHECK((s.generation & GENERATION_BY_ADDRESS) == 0);
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "10.1.2.3:1883") == STARLING_ALLOW);
    slot = slot_for(&s, NULL, "c", "plant/x", 0);
    CHECK(slot != NULL && slot->what != 0 && slot->peer_len == 0 && slot->topic_len == 7);
    /* ... so another address is a hit: rules put in behind the cache's back do not answer it. */
    other = parse_text("topic deny plant/#\n", err, sizeof err);
    mine = s.rules;
    s.rules = other;
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "11.1.2.3:1883") == STARLING_ALLOW);
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "") == STARLING_ALLOW);
    s.rules = mine;
    free_ruleset(other);
    /* A request of 511 bytes is cached whatever its address: the address is not counted. */
    memset(topic, 'p', sizeof topic - 1);
    memcpy(topic, "plant/", 6);
    topic[sizeof topic - 2] = '\0'; /* 510 bytes + client id "c" */
    CHECK(decide_at(&s, NULL, "c", topic, 0, "10.1.2.3:1883") == STARLING_ALLOW);
    other = parse_text("topic deny plant/#\n", err, sizeof err);
    s.rules = other;
    CHECK(decide_at(&s, NULL, "c", topic, 0, "10.1.2.3:1883") == STARLING_ALLOW);
    s.rules = mine;
    free_ruleset(other);

    /* A reload to rules with address blocks: the address is in the key from then on. */
    reload_text(&s, "address 10.0.0.0/8\ntopic plant/#\nuser alice\ntopic plant/#\naddress 10.9.0.0/16\n"
                    "topic deny plant/#\n");
    CHECK((s.generation & GENERATION_BY_ADDRESS) != 0);
    for (i = 0; i < 100; i++) {
        /* the same client id and topic from several addresses, in turn: each gets its own answer */
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "10.1.2.3:1883") != STARLING_ALLOW;
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "11.1.2.3:1883") != STARLING_DENY;
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "") != STARLING_DENY;
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "[::ffff:10.0.0.1]:1") != STARLING_ALLOW;
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "10.9.2.3:1883") != STARLING_DENY;
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "10.1.2.3:1884") != STARLING_ALLOW; /* another port */
        /* named: the username and the address are both in the key */
        wrong += decide_at(&s, "alice", "c", "plant/x", 0, "11.1.2.3:1883") != STARLING_ALLOW;
        wrong += decide_at(&s, "alice", "c", "plant/x", 0, "10.9.2.3:1883") != STARLING_DENY;
        wrong += decide_at(&s, "bob", "c", "plant/x", 0, "11.1.2.3:1883") != STARLING_DENY;
        wrong += decide_at(&s, "bob", "c", "plant/x", 0, "10.1.2.3:1883") != STARLING_ALLOW;
        /* and each of them twice in a row: the second answer is a hit */
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "11.1.2.3:1883") != STARLING_DENY;
        wrong += decide_at(&s, NULL, "c", "plant/x", 0, "11.1.2.3:1883") != STARLING_DENY;
    }
    CHECK(wrong == 0);
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "10.1.2.3:1883") == STARLING_ALLOW);
    slot = slot_for(&s, NULL, "c", "plant/x", 0);
    CHECK(slot != NULL && slot->what != 0 && slot->peer_len == 13 && slot->decision == STARLING_ALLOW
          && memcmp(slot->key + 7 + 1, "10.1.2.3:1883", 13) == 0);
    /* A hit answers for its own address only: behind the cache's back, the cached address keeps its
     * answer and another one asks the rules. */
    other = parse_text("address 11.0.0.0/8\ntopic plant/#\n", err, sizeof err);
    mine = s.rules;
    s.rules = other;
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "10.1.2.3:1883") == STARLING_ALLOW);
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "11.1.2.3:1883") == STARLING_ALLOW);
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "10.1.2.4:1883") == STARLING_DENY);
    /* The address counts towards the longest request cached: 510 + 1 + 13 bytes are not. */
    CHECK(decide_at(&s, NULL, "c", topic, 0, "11.1.2.3:1883") == STARLING_ALLOW);
    s.rules = mine;
    CHECK(decide_at(&s, NULL, "c", topic, 0, "11.1.2.3:1883") == STARLING_DENY);
    free_ruleset(other);

    /* Back to rules without address blocks: the address leaves the key again. */
    reload_text(&s, "topic plant/#\n");
    CHECK((s.generation & GENERATION_BY_ADDRESS) == 0);
    CHECK(decide_at(&s, NULL, "c", "plant/x", 0, "11.1.2.3:1883") == STARLING_ALLOW);
    slot = slot_for(&s, NULL, "c", "plant/x", 0);
    CHECK(slot != NULL && slot->what != 0 && slot->peer_len == 0);
    stop_state(&s);
}

/* A reload between a miss's look at the generation and its lock (see decide), from rules without
 * address blocks to rules with them. */
struct racer {
    struct acl_state *s;
    int ready, go, first, second; /* __atomic */
};

static void *racer_thread(void *arg)
{
    struct racer *p = arg;
    struct timespec breath = {0, 1000000L};
    (void)decide_at(p->s, NULL, "other", "x", 0, ""); /* makes this thread's cache, which takes the lock */
    __atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&p->go, __ATOMIC_ACQUIRE)) {
        nanosleep(&breath, NULL);
    }
    /* Looks at the generation (no address blocks), misses, and waits for the lock meanwhile held by
     * the main thread, which puts rules with address blocks in force. */
    __atomic_store_n(&p->first, decide_at(p->s, NULL, "c", "plant/x", 0, "10.1.2.3:1883"), __ATOMIC_RELEASE);
    /* That answer was for 10.1.2.3; had it been kept under a key without the address, an unknown
     * address would now be answered from it. */
    __atomic_store_n(&p->second, decide_at(p->s, NULL, "c", "plant/x", 0, ""), __ATOMIC_RELEASE);
    return NULL;
}

static void address_reload_race(void)
{
    struct acl_state s;
    struct racer racer;
    pthread_t thread;
    struct timespec pause = {0, 50000000L};
    char err[800];
    struct ruleset *fresh;
    int i;

    start_state(&s, "topic other\n");
    s.next_check_ns = LLONG_MAX;
    fresh = parse_text("address 10.0.0.0/8\ntopic plant/#\n", err, sizeof err);
    memset(&racer, 0, sizeof racer);
    racer.s = &s;
    pthread_create(&thread, NULL, racer_thread, &racer);
    for (i = 0; i < 2000 && !__atomic_load_n(&racer.ready, __ATOMIC_ACQUIRE); i++) {
        struct timespec breath = {0, 1000000L};
        nanosleep(&breath, NULL);
    }
    pthread_mutex_lock(&s.lock);
    __atomic_store_n(&racer.go, 1, __ATOMIC_RELEASE);
    nanosleep(&pause, NULL); /* time for the thread to reach the lock (the checks hold either way) */
    replace_rules(&s, fresh);
    pthread_mutex_unlock(&s.lock);
    pthread_join(thread, NULL);
    CHECK(racer.first == STARLING_ALLOW);
    CHECK(racer.second == STARLING_DENY);
    stop_state(&s);
}

/* Through the entry points and the hooks, with events as a broker of ABI 1.3 and an older one make
 * them. */
static const char *fake_option(starling_plugin *plugin, const char *name)
{
    (void)plugin;
    return strcmp(name, "acl_file") == 0 ? scratch : NULL;
}

static starling_hook_fn registered[4];
static void *registered_data[4];

static int fake_register_hook(starling_plugin *plugin, int32_t hook, starling_hook_fn callback, int32_t priority,
                              void *user_data)
{
    (void)plugin;
    (void)priority;
    if (hook < 0 || hook >= 4) {
        return STARLING_ERR_UNSUPPORTED;
    }
    registered[hook] = callback;
    registered_data[hook] = user_data;
    return STARLING_OK;
}

static int publish_from(const char *peer, size_t struct_size, const char *topic)
{
    starling_authorize_publish_event event;
    memset(&event, 0, sizeof event);
    event.struct_size = struct_size;
    event.client_id = "c";
    event.client_id_len = 1;
    event.topic = topic;
    event.topic_len = strlen(topic);
    event.peer_address = peer;
    event.peer_address_len = peer != NULL ? strlen(peer) : 0;
    return registered[STARLING_HOOK_AUTHORIZE_PUBLISH](&event, registered_data[STARLING_HOOK_AUTHORIZE_PUBLISH]);
}

static int subscribe_from(const char *peer, size_t struct_size, const char *filter)
{
    starling_authorize_subscribe_event event;
    memset(&event, 0, sizeof event);
    event.struct_size = struct_size;
    event.client_id = "c";
    event.client_id_len = 1;
    event.username = "bob";
    event.username_len = 3;
    event.filter = filter;
    event.filter_len = strlen(filter);
    event.qos = 1;
    event.peer_address = peer;
    event.peer_address_len = peer != NULL ? strlen(peer) : 0;
    return registered[STARLING_HOOK_AUTHORIZE_SUBSCRIBE](&event,
                                                         registered_data[STARLING_HOOK_AUTHORIZE_SUBSCRIBE]);
}

static void address_entry_points(void)
{
    static const starling_host_api current = {.struct_size = sizeof(starling_host_api), .abi_version = 1,
                                              .abi_minor = 3, .broker_version = "test",
                                              .register_hook = fake_register_hook, .log = fake_log,
                                              .option = fake_option};
    static const starling_host_api older = {.struct_size = sizeof(starling_host_api), .abi_version = 1,
                                            .abi_minor = 2, .broker_version = "old",
                                            .register_hook = fake_register_hook, .log = fake_log,
                                            .option = fake_option};
    const size_t pub_size = sizeof(starling_authorize_publish_event);
    const size_t sub_size = sizeof(starling_authorize_subscribe_event);
    const size_t old_pub_size = offsetof(starling_authorize_publish_event, peer_address);
    const size_t old_sub_size = offsetof(starling_authorize_subscribe_event, peer_address);
    FILE *f = fopen(scratch, "w");
    void *user_data = NULL;
    starling_authorize_publish_event *short_event;
    int warnings = logged_address_warnings;

    fputs("topic write public/#\naddress 10.0.0.0/8 2001:db8::/32\ntopic plant/#\n", f);
    fclose(f);

    /* ABI 1.3: the address comes with the events */
    CHECK(starling_plugin_init(NULL, &current, NULL, 0, &user_data) == 0 && user_data != NULL);
    CHECK(logged_address_warnings == warnings);
    CHECK(user_data != NULL && (((struct acl_state *)user_data)->generation & GENERATION_BY_ADDRESS) != 0);
    CHECK(publish_from("10.1.2.3:1883", pub_size, "plant/x") == STARLING_ALLOW);
    CHECK(publish_from("11.1.2.3:1883", pub_size, "plant/x") == STARLING_DENY);
    CHECK(publish_from("[::ffff:10.1.2.3]:1883", pub_size, "plant/x") == STARLING_ALLOW);
    CHECK(publish_from("", pub_size, "plant/x") == STARLING_DENY);
    CHECK(publish_from(NULL, pub_size, "plant/x") == STARLING_DENY); /* taken as unknown */
    CHECK(publish_from("10.1.2.3:1883", pub_size, "plant/x") == STARLING_ALLOW);
    CHECK(subscribe_from("[2001:db8::7]:1883", sub_size, "plant/#") == STARLING_ALLOW);
    CHECK(subscribe_from("[2001:db8::7]:1883", sub_size, "$share/g/plant/#") == STARLING_ALLOW);
    CHECK(subscribe_from("[2001:db9::7]:1883", sub_size, "$share/g/plant/#") == STARLING_DENY);
    CHECK(subscribe_from("", sub_size, "plant/#") == STARLING_DENY);
    /* an event of an older broker ends before peer_address: what lies there is not read */
    CHECK(publish_from("10.1.2.3:1883", old_pub_size, "plant/x") == STARLING_DENY);
    CHECK(subscribe_from("[2001:db8::7]:1883", old_sub_size, "plant/#") == STARLING_DENY);
    short_event = malloc(old_pub_size); /* exactly as long as an older broker's: ASan sees any read past it */
    if (short_event != NULL) {
        starling_authorize_publish_event full;
        memset(&full, 0, sizeof full);
        full.struct_size = old_pub_size;
        full.client_id = "c";
        full.client_id_len = 1;
        full.topic = "plant/x";
        full.topic_len = 7;
        memcpy(short_event, &full, old_pub_size);
        CHECK(registered[STARLING_HOOK_AUTHORIZE_PUBLISH](short_event,
                                                          registered_data[STARLING_HOOK_AUTHORIZE_PUBLISH])
              == STARLING_DENY);
        free(short_event);
    }
    CHECK(starling_plugin_cleanup(NULL, user_data) == 0);

    /* An older broker: a warning at load; the address blocks apply to nobody, the rest works. */
    user_data = NULL;
    CHECK(starling_plugin_init(NULL, &older, NULL, 0, &user_data) == 0 && user_data != NULL);
    CHECK(logged_address_warnings == warnings + 1);
    CHECK(publish_from("10.1.2.3:1883", old_pub_size, "plant/x") == STARLING_DENY);
    CHECK(publish_from("10.1.2.3:1883", old_pub_size, "public/x") == STARLING_ALLOW);
    CHECK(starling_plugin_cleanup(NULL, user_data) == 0);

    /* No address blocks: no warning from an older broker either. */
    f = fopen(scratch, "w");
    fputs("topic write public/#\n", f);
    fclose(f);
    user_data = NULL;
    CHECK(starling_plugin_init(NULL, &older, NULL, 0, &user_data) == 0 && user_data != NULL);
    CHECK(logged_address_warnings == warnings + 1);
    CHECK(user_data != NULL && (((struct acl_state *)user_data)->generation & GENERATION_BY_ADDRESS) == 0);
    CHECK(publish_from("10.1.2.3:1883", pub_size, "public/x") == STARLING_ALLOW);
    CHECK(starling_plugin_cleanup(NULL, user_data) == 0);
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
    /* after concurrent_reloads, whose counts of logged reloads are absolute */
    address_parsing();
    address_evaluation();
    address_cache();
    address_reload_race();
    address_entry_points();

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
