/*
 * Unit tests of plugins/acl-file: the matcher, the parser and the evaluation, calling its static
 * functions directly (the plugin's source is included). Built and run by AclFilePluginTests.
 * Usage: acl_file_unit SCRATCH_FILE; prints "N checks, M failed" and exits 1 on a failure.
 */
#include "../../../plugins/acl-file/acl_file.c"

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

static int ask(const struct ruleset *rs, const char *user, const char *id, const char *topic, int subscribe)
{
    struct request r;
    r.client_id = id;
    r.username = user;
    r.topic = topic;
    r.need = subscribe ? ACC_READ : ACC_WRITE;
    r.subscribe = subscribe;
    return evaluate(rs, &r);
}

#define PUB(rs, user, id, topic) ask(rs, user, id, topic, 0)
#define SUB(rs, user, id, topic) ask(rs, user, id, topic, 1)
#define NONE (-1)

static void fake_log(starling_plugin *plugin, int32_t level, const char *message)
{
    (void)plugin;
    if (level == STARLING_LOG_ERROR && strstr(message, "keeping the previous rules") != NULL) {
        logged_errors++;
    } else if (strstr(message, "reloaded ") != NULL) {
        logged_reloads++;
    }
}

static int stop_threads; /* __atomic builtins: C99 has no atomics */
static int wrong_answers[4];

/* Asks for ever while the file changes: "both/x" is allowed by every version of the file. */
static void *asker(void *arg)
{
    struct acl_state *s = ((void **)arg)[0];
    int *wrong = ((void **)arg)[1];
    struct request r;
    r.client_id = "c";
    r.username = NULL;
    r.topic = "both/x";
    r.need = ACC_WRITE;
    r.subscribe = 0;
    while (!__atomic_load_n(&stop_threads, __ATOMIC_ACQUIRE)) {
        struct timespec breath = {0, 50000L};
        if (decide(s, &r) != STARLING_ALLOW) {
            (*wrong)++;
        }
        nanosleep(&breath, NULL);
    }
    return NULL;
}

/* Callbacks on several threads while the file is rewritten, broken and fixed: every answer stays
 * right, reloads happen, and a broken version is logged and skipped. */
static void concurrent_reloads(void)
{
    /* Designated: the table grows at the end with every minor version. */
    static const starling_host_api host = {.struct_size = sizeof(starling_host_api), .abi_version = 1,
                                           .broker_version = "test", .log = fake_log};
    struct acl_state s;
    pthread_t threads[4];
    void *args[4][2];
    char err[800];
    int i, round;
    memset(&s, 0, sizeof s);
    s.host = &host;
    s.path = (char *)scratch;
    s.no_match = STARLING_DENY;
    s.rules = parse_text("topic both/#\n", err, sizeof err);
    pthread_mutex_init(&s.lock, NULL);
    for (i = 0; i < 4; i++) {
        args[i][0] = &s;
        args[i][1] = &wrong_answers[i];
        pthread_create(&threads[i], NULL, asker, args[i]);
    }
    for (round = 0; round < 3; round++) {
        struct timespec pause = {1, 200000000L}; /* a file is taken once a second old */
        FILE *f = fopen(scratch, "w");
        fputs(round % 2 ? "topic a/#\ntopic both/+\n" : "topic both/x\ntopic nonsense here\n", f);
        fclose(f);
        nanosleep(&pause, NULL);
    }
    __atomic_store_n(&stop_threads, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(wrong_answers[i] == 0);
    }
    CHECK(logged_reloads >= 1);
    CHECK(logged_errors >= 1);
    pthread_mutex_destroy(&s.lock);
    free_ruleset(s.rules);
    clear_cache(&s);
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

    concurrent_reloads();

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
