/*
 * acl-file: topic matching (filters against topics, overlaps, valid filters).
 *
 * A part of acl_file.c's single translation unit (included by it, after its types; not compiled
 * on its own), so the plugin still builds from the one command in acl_file.c and its functions
 * stay static.
 */

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
