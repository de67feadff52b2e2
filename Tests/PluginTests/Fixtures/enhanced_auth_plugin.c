/*
 * A small challenge-response method for MQTT 5 enhanced authentication, "SCRAM-TEST", shaped as
 * SCRAM is: the client opens with a nonce, the broker answers with a challenge (AUTH 0x18), the
 * client proves it knows the password, the broker allows and sends its final message. Stateless:
 * the challenge is derived from the client id, so no table is needed.
 *
 *   step CONNECT / REAUTHENTICATE, data "n=NONCE"  -> CONTINUE, out "c=CLIENTID:NONCE"
 *   step CONTINUE, data "p=CLIENTID:NONCE:PASSWORD" with PASSWORD = option password (default
 *   "secret")                                       -> ALLOW, out "v=ok"
 *   any other data                                  -> DENY (reason_code option, default 0x87)
 *   another method                                  -> IGNORE
 *
 * Options: password; pending = "1": every answer is given later, from a thread, with
 * host->complete_auth (after delay_ms, default 100).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <starling/plugin.h>

#include "workers.h"

#define METHOD "SCRAM-TEST"

typedef struct state {
    starling_plugin *plugin;
    const starling_host_api *host;
    const char *password;
    int pending;
    int delay_ms;
    int32_t reason_code;
    workers workers;
} state;

typedef struct job {
    state *s;
    uint64_t ticket;
    int32_t decision;
    int32_t reason_code;
    size_t len;
    uint8_t data[256];
} job;

static void *worker(void *arg)
{
    job *j = arg;
    state *s = j->s;
    char line[64];
    int rc;
    sleep_ms(s->delay_ms);
    rc = s->host->complete_auth(s->plugin, j->ticket, j->decision, j->reason_code, j->len ? j->data : NULL, j->len);
    snprintf(line, sizeof line, "complete_auth -> %d", rc);
    s->host->log(s->plugin, STARLING_LOG_INFO, line);
    free(j);
    workers_done(&s->workers);
    return NULL;
}

/* Gives the answer now (out data into the event) or, with `pending`, from a thread. */
static int answer(state *s, starling_enhanced_auth_event *e, int32_t decision, const char *out)
{
    size_t len = strlen(out);
    job *j;
    if (!s->pending || e->ticket == 0) {
        memcpy(e->out_data, out, len);
        e->out_data_len = len;
        e->reason_code = s->reason_code;
        return decision;
    }
    j = calloc(1, sizeof *j);
    if (j == NULL || len > sizeof j->data) { free(j); return STARLING_DENY; }
    j->s = s;
    j->ticket = e->ticket;
    j->decision = decision;
    j->reason_code = s->reason_code;
    j->len = len;
    memcpy(j->data, out, len);
    if (workers_spawn(&s->workers, worker, j) != 0) {
        free(j);
        return STARLING_DENY;
    }
    return STARLING_PENDING;
}

static int on_enhanced_auth(void *data, void *user)
{
    starling_enhanced_auth_event *e = data;
    state *s = user;
    char expected[512];
    char out[300];
    if (e->method_len != strlen(METHOD) || memcmp(e->method, METHOD, e->method_len) != 0) return STARLING_IGNORE;
    if (e->step == STARLING_AUTH_CONNECT || e->step == STARLING_AUTH_REAUTHENTICATE) {
        if (e->data == NULL || e->data_len < 3 || e->data_len > 200 || memcmp(e->data, "n=", 2) != 0)
            return answer(s, e, STARLING_DENY, "");
        snprintf(out, sizeof out, "c=%.*s:%.*s", (int)e->client_id_len, e->client_id, (int)(e->data_len - 2),
                 (const char *)e->data + 2);
        return answer(s, e, STARLING_CONTINUE, out);
    }
    /* STARLING_AUTH_CONTINUE: the proof. The nonce is whatever lies between the id and the password. */
    if (e->data != NULL && e->data_len > 2 && e->data_len < 400 && memcmp(e->data, "p=", 2) == 0) {
        const char *proof = (const char *)e->data + 2;
        size_t proof_len = e->data_len - 2;
        size_t password_len = strlen(s->password);
        snprintf(expected, sizeof expected, "%.*s:", (int)e->client_id_len, e->client_id);
        if (proof_len > strlen(expected) + password_len
            && memcmp(proof, expected, strlen(expected)) == 0
            && proof[proof_len - password_len - 1] == ':'
            && memcmp(proof + proof_len - password_len, s->password, password_len) == 0)
            return answer(s, e, STARLING_ALLOW, "v=ok");
    }
    return answer(s, e, STARLING_DENY, "");
}

STARLING_PLUGIN_EXPORT int starling_plugin_version(void)
{
    return STARLING_PLUGIN_ABI_VERSION;
}

STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin, const starling_host_api *host,
                                                const starling_option *options, size_t option_count,
                                                void **user_data)
{
    state *s;
    const char *text;
    (void)options;
    (void)option_count;
    if (!STARLING_HAS_MEMBER(host, starling_host_api, complete_auth)) return 1;
    s = calloc(1, sizeof *s);
    if (s == NULL) return 1;
    s->plugin = plugin;
    s->host = host;
    s->password = host->option(plugin, "password") != NULL ? host->option(plugin, "password") : "secret";
    s->pending = host->option(plugin, "pending") != NULL && strcmp(host->option(plugin, "pending"), "1") == 0;
    text = host->option(plugin, "delay_ms");
    s->delay_ms = text != NULL ? atoi(text) : 100;
    text = host->option(plugin, "reason_code");
    s->reason_code = text != NULL ? (int32_t)strtol(text, NULL, 0) : 0x87;
    workers_init(&s->workers);
    if (host->register_hook(plugin, STARLING_HOOK_ENHANCED_AUTH, on_enhanced_auth, 0, s) != STARLING_OK) {
        free(s);
        return 2;
    }
    *user_data = s;
    return 0;
}

STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data)
{
    state *s = user_data;
    (void)plugin;
    workers_finish(&s->workers);
    free(s);
    return 0;
}
