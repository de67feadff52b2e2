/*
 * acl-file: reloading the file when it changes, and logging.
 *
 * A part of acl_file.c's single translation unit (included by it, after its types; not compiled
 * on its own), so the plugin still builds from the one command in acl_file.c and its functions
 * stay static.
 */

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
