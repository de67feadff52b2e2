/*
 * acl-file: the per-thread decision cache.
 *
 * A part of acl_file.c's single translation unit (included by it, after its types; not compiled
 * on its own), so the plugin still builds from the one command in acl_file.c and its functions
 * stay static.
 */

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
