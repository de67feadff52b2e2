/*
 * acl-file: reading the ACL file into a rule set (a clear error with the line number).
 *
 * A part of acl_file.c's single translation unit (included by it, after its types; not compiled
 * on its own), so the plugin still builds from the one command in acl_file.c and its functions
 * stay static.
 */

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
