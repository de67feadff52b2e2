/*
 * acl-file: evaluating the rules for one request (substitution, matching, deny before allow).
 *
 * A part of acl_file.c's single translation unit (included by it, after its types; not compiled
 * on its own), so the plugin still builds from the one command in acl_file.c and its functions
 * stay static.
 */

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
