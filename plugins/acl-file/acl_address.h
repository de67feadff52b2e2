/*
 * acl-file: client addresses (CIDR networks, IPv4-mapped addresses, `address` blocks).
 *
 * A part of acl_file.c's single translation unit (included by it, after its types; not compiled
 * on its own), so the plugin still builds from the one command in acl_file.c and its functions
 * stay static.
 */

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
