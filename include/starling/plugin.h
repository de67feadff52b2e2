/*
 * starling/plugin.h - the Starling MQTT broker's plugin interface, ABI version 1.
 *
 * One self-contained C99 header (it includes only <stddef.h>, <stdint.h> and <stdbool.h>);
 * it also compiles as C++. Every public name starts with starling_ or STARLING_.
 *
 * ==========================================================================================
 * What a plugin is
 * ==========================================================================================
 *
 * A plugin is a shared object the broker loads with dlopen(RTLD_NOW | RTLD_LOCAL). It exports
 * three functions, declared at the end of this header, and since ABI 1.2 may export a fourth:
 *
 *   int starling_plugin_version(void);          return STARLING_PLUGIN_ABI_VERSION
 *   int starling_plugin_init(...);              register hooks, read options; 0 = ready
 *   int starling_plugin_cleanup(...);           free everything; the image is unloaded next
 *   int starling_plugin_abi_minor(void);        optional: return STARLING_PLUGIN_ABI_MINOR
 *                                               (needed to answer PENDING from hooks 1-3)
 *
 * Everything else in the plugin should be `static`, so that `nm -D --defined-only plugin.so`
 * lists these and nothing more. Build a C plugin with
 *
 *   cc -std=c99 -Wall -Wextra -Werror -fPIC -shared -Wl,-Bsymbolic -Iinclude -o my.so my.c
 *
 * (-Wl,-Bsymbolic binds the plugin's calls to its own functions, so two versions loaded side by
 * side during a reload never call into each other.)
 *
 * The broker calls starling_plugin_version() before anything else and refuses a plugin whose
 * ABI version it does not serve, with a message naming both versions. It then calls
 * starling_plugin_init() once, with a table of broker functions (starling_host_api) and the
 * plugin's options from the configuration. During init the plugin registers callbacks for the
 * hook points it wants (starling_hook). When the plugin is unloaded - at shutdown, or by the
 * operator at run time - its callbacks leave the hook chain at once, the broker waits for calls
 * already running inside them to return and for its open PENDING tickets to be completed (or to
 * time out: plugin_loader.pending_timeout), then calls starling_plugin_cleanup() and dlclose().
 * A client waiting for an answer of the old version during a reload still gets that answer.
 * A reload loads and initialises the new version first and swaps it in without a moment in
 * which clients pass unchecked.
 *
 * ==========================================================================================
 * Compatibility rules (how this header grows)
 * ==========================================================================================
 *
 * - STARLING_PLUGIN_ABI_VERSION changes only for an incompatible change; the broker refuses
 *   plugins of a version it does not serve.
 * - Within a version, additions only go at the END: new hook ids and enum values, new fields
 *   at the end of event structs (after `reserved`: the struct grows and struct_size says so),
 *   new functions at the end of starling_host_api. STARLING_PLUGIN_ABI_MINOR counts them. The
 *   broker zero-fills `reserved`; a later field may take a slot there only if zero (NULL) is
 *   its "not given" value, so older brokers still say the right thing. A plugin
 *   built against an older header keeps loading into a newer broker, and a plugin built against
 *   a newer header can run on an older broker if it checks before it uses something new:
 *     - a host function: STARLING_HAS_MEMBER(host, starling_host_api, function_name);
 *     - an event field:  STARLING_HAS_MEMBER(event, starling_..._event, field_name);
 *     - a hook id: register_hook() answers STARLING_ERR_UNSUPPORTED for one the broker lacks.
 * - Minor 2 adds asynchronous decisions (PENDING, completed later from any thread), the
 *   client_connect hook and MQTT 5 enhanced authentication ("ABI 1.2: asynchronous decisions"),
 *   the message, subscription and session hooks ("ABI 1.2: message, subscription and session
 *   hooks") and broker services: subscribing on the plugin's own behalf, metrics, timers and
 *   functions exported for calls through libffi ("ABI 1.2: services"). Minor 3 adds the client's
 *   address to the authorize events ("ABI 1.3"); minor 4 the client's verified TLS certificate
 *   (subject DN, CN, PEM chain) to the client_connect, authenticate and authorize events ("ABI
 *   1.4"). Nothing of a later version is declared before the broker does it.
 *
 * ==========================================================================================
 * Threads
 * ==========================================================================================
 *
 * The broker runs several event-loop threads; each client lives on one of them. Hook callbacks
 * run on the thread of the client concerned (MESSAGE_PUBLISH: the publisher's - for a will its
 * session's, for host->publish the calling event loop's or the first one's, for the HTTP API the
 * first one's; MESSAGE_DELIVERED, _ACKED and a subscriber's MESSAGE_DROPPED: the subscriber's;
 * session hooks: the session's): calls for one client never overlap and come in the
 * order of its packets, while calls for different clients may run at the same time on different
 * threads. A callback must therefore protect state it shares between clients (atomics, a mutex)
 * and must return quickly: while it runs, every client of that thread waits. Do not block on the
 * network or a slow disk inside one: since ABI 1.2 the hooks that decide (client_connect,
 * authenticate, authorize_publish, authorize_subscribe, enhanced_auth) may answer PENDING and
 * give the answer later from any thread with host->complete (see "Asynchronous decisions").
 *
 * init and cleanup run on a broker control thread, never at the same time as each other, and
 * never while a callback of the same plugin runs (cleanup waits for them).
 *
 * ==========================================================================================
 * Memory
 * ==========================================================================================
 *
 * - Everything the broker passes in (event structs, strings, payloads, options) is owned by the
 *   broker and valid only for the duration of the call, unless a function says otherwise; copy
 *   what you keep.
 * - Everything a plugin passes to the broker (topic, payload, log message ...) is read during
 *   the call only; the broker copies what it keeps.
 * - Strings are UTF-8 and NUL-terminated; their length in bytes (without the NUL) comes with
 *   them. MQTT forbids NUL inside them, so the terminated form is always the whole string.
 *   Binary data (password, payload) comes as pointer and length, and is not NUL-terminated.
 */
#ifndef STARLING_PLUGIN_H
#define STARLING_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions and helpers
 * ------------------------------------------------------------------------------------------- */

/** The ABI version this header describes; starling_plugin_version() returns it. */
#define STARLING_PLUGIN_ABI_VERSION 1

/**
 * Additions made to ABI version 1 so far:
 *   1 - starling_host_api.verify_password.
 *   2 - asynchronous decisions: STARLING_PENDING, the `ticket` field of the authenticate,
 *       authorize_publish and authorize_subscribe events, host->complete and
 *       host->complete_auth; STARLING_HOOK_CLIENT_CONNECT (starling_client_connect_event);
 *       MQTT 5 enhanced authentication: STARLING_HOOK_ENHANCED_AUTH
 *       (starling_enhanced_auth_event, starling_auth_step) and STARLING_CONTINUE;
 *       message hooks: STARLING_HOOK_MESSAGE_PUBLISH, _MESSAGE_DELIVERED, _MESSAGE_ACKED,
 *       _MESSAGE_DROPPED; subscription hooks: STARLING_HOOK_SUBSCRIBE, _UNSUBSCRIBE; session hooks:
 *       STARLING_HOOK_SESSION_CREATED, _SESSION_RESUMED, _SESSION_TAKEN_OVER, _SESSION_ENDED; with
 *       starling_hook_result, starling_message_source, starling_drop_reason,
 *       starling_session_end_reason, starling_user_property and their event structs.
 *   2 - services: starling_host_api.subscribe, unsubscribe (starling_message_event),
 *       counter_add, gauge_set, timer_start, timer_cancel, export_function, call_function
 *       (starling_value).
 *   2 - the optional entry point starling_plugin_abi_minor (a plugin answering PENDING from
 *       hooks 1-3 must export it).
 *   3 - the client's address (peer_address, peer_address_len) in the authorize_publish and
 *       authorize_subscribe events.
 *   4 - the client's verified TLS certificate (peer_cert_dn, peer_cert_cn, peer_cert_pem and
 *       their lengths) in the client_connect, authenticate, authorize_publish and
 *       authorize_subscribe events.
 */
#define STARLING_PLUGIN_ABI_MINOR 4

/**
 * True when the struct at `ptr` (of type `type`, whose first field is `size_t struct_size`) is
 * large enough to hold `member`: use it before reading a field or calling a host function that a
 * later minor version added.
 */
#define STARLING_HAS_MEMBER(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/** Marks the three entry points as exported; everything else in a plugin should be static. */
#if defined(__GNUC__) || defined(__clang__)
#define STARLING_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define STARLING_PLUGIN_EXPORT
#endif

/* ---------------------------------------------------------------------------------------------
 * Handles and codes
 * ------------------------------------------------------------------------------------------- */

/**
 * The broker's handle of one loaded plugin, passed to init and cleanup and to every host
 * function. Opaque: never dereference it. Valid from the start of starling_plugin_init() until
 * starling_plugin_cleanup() returns; a reloaded version gets a new handle.
 */
typedef struct starling_plugin starling_plugin;

/** Results of host functions: STARLING_OK, or a negative error. */
typedef enum starling_status {
    STARLING_OK = 0,
    /** An argument is NULL, out of range or malformed (a topic with wildcards, say). */
    STARLING_ERR_INVALID = -1,
    /** This broker does not know the hook id (a newer plugin on an older broker). */
    STARLING_ERR_UNSUPPORTED = -2,
    /** Not allowed at this moment (register_hook after init has returned, say). */
    STARLING_ERR_STATE = -3,
    /** Nothing of that name exists (kick of an unknown client id). */
    STARLING_ERR_NOT_FOUND = -4
} starling_status;

/**
 * What an authentication or authorization callback answers.
 *
 * Chain rule: the broker calls the callbacks registered for a hook in order of priority
 * (highest first; equal priorities in load order). The first ALLOW or DENY decides and ends the
 * chain; IGNORE passes to the next callback. When every callback ignores, the broker's
 * configuration decides (authentication.no_match, authorization.no_match). Any other value is a
 * plugin bug: the broker counts it as DENY and logs it.
 *
 * Asynchronous decisions (ABI 1.2):
 * PENDING (only when the event's `ticket` is non-zero) suspends the chain for that one client:
 * the answer comes later through host->complete(ticket, ...). A completion with ALLOW or DENY
 * decides as if the callback had returned it; IGNORE resumes the chain at the next callback.
 * While the answer is outstanding only that client waits: its later packets are held back, in
 * the order they arrived, and handled after the answer; every other client carries on. When
 * plugin_loader.pending_timeout (default 5 s) passes without an answer, the broker denies
 * (CONNECT: CONNACK 0x87 / 3.1.1 return code 5; PUBLISH: as a DENY; a SUBSCRIBE filter: 0x87)
 * and logs the plugin and the hook. An open ticket counts as a call in flight: unloading or
 * reloading the plugin waits for it (bounded by the timeout) before cleanup. CONTINUE is only
 * for STARLING_HOOK_ENHANCED_AUTH (see there); anywhere else it is an invalid value (counted as
 * DENY and logged), as is PENDING with a zero ticket.
 *
 * Which plugins get a ticket: for client_connect and enhanced_auth (hooks new in ABI 1.2) every
 * plugin; for authenticate, authorize_publish and authorize_subscribe only a plugin that exports
 * starling_plugin_abi_minor() returning 2 or more. A plugin built before 1.2 cannot know that 3
 * means PENDING - to it 3 is just an invalid value - so without that declaration the broker
 * gives these events ticket 0 and counts 3 as DENY (logged), as ABI 1.0 and 1.1 brokers did.
 */
typedef enum starling_decision {
    STARLING_IGNORE = 0,
    STARLING_ALLOW = 1,
    STARLING_DENY = 2,
    /* ----- ABI 1.2: asynchronous decisions ----- */
    /** The answer follows through host->complete; allowed only when the event's ticket != 0. */
    STARLING_PENDING = 3,
    /** STARLING_HOOK_ENHANCED_AUTH only: send the client AUTH 0x18 (continue authentication). */
    STARLING_CONTINUE = 4
} starling_decision;

/** Severity for host->log(). */
typedef enum starling_log_level {
    STARLING_LOG_DEBUG = 1,
    STARLING_LOG_INFO = 2,
    STARLING_LOG_NOTICE = 3,
    STARLING_LOG_WARNING = 4,
    STARLING_LOG_ERROR = 5
} starling_log_level;

/** The MQTT protocol level a client connected with (the CONNECT packet's protocol level). */
typedef enum starling_protocol_version {
    STARLING_MQTT_3_1 = 3,
    STARLING_MQTT_3_1_1 = 4,
    STARLING_MQTT_5 = 5
} starling_protocol_version;

/** The priority of a callback that has no reason to run before or after others. */
#define STARLING_PRIORITY_DEFAULT 0

/* ---------------------------------------------------------------------------------------------
 * Hook points and their events
 *
 * Each hook passes one event struct, owned by the broker and valid during the call only. Its
 * first field is its size: read a field added by a later minor version only after
 * STARLING_HAS_MEMBER says it is there. Fields marked "out" may be written by the callback;
 * everything else is read-only.
 * ------------------------------------------------------------------------------------------- */

/** The hook points, for host->register_hook(). Later versions add ids at the end. */
typedef enum starling_hook {
    /**
     * A client sent CONNECT. Event: starling_authenticate_event. Return ALLOW, DENY or IGNORE
     * (or, since ABI 1.2, PENDING: see starling_decision).
     * DENY refuses the connection with the event's reason_code (MQTT 3.1.1 clients get the
     * nearest return code: 0x86 -> 4 bad user name or password, others -> 5 not authorized).
     * When every callback ignores: a client without username and password is accepted as
     * mqtt.allow_anonymous says; one with credentials as authentication.no_match says (default:
     * deny with 0x86).
     */
    STARLING_HOOK_AUTHENTICATE = 1,
    /**
     * A connected client sent PUBLISH, before it is routed. Event:
     * starling_authorize_publish_event. Return ALLOW, DENY, IGNORE (or PENDING, ABI 1.2). DENY
     * drops the message: an MQTT 5 client gets PUBACK/PUBREC with 0x87 (QoS 1/2), a QoS 0
     * message is dropped silently, and an MQTT 3.1.1 client is acknowledged as usual (it has no
     * way to be told). The will of a CONNECT is checked here too, at CONNECT (ABI 1.2): a DENY
     * refuses the connection with 0x87 (MQTT 3.1.1: return code 5).
     * When every callback ignores, authorization.no_match decides (default: allow).
     * Messages published by plugins (host->publish) are not checked.
     */
    STARLING_HOOK_AUTHORIZE_PUBLISH = 2,
    /**
     * A connected client asked for one subscription (called once per filter of a SUBSCRIBE).
     * Event: starling_authorize_subscribe_event. Return ALLOW, DENY, IGNORE (or PENDING, ABI
     * 1.2); a callback that does not deny may also lower the event's qos to grant less. DENY
     * refuses that filter (SUBACK 0x87; MQTT 3.1.1: 0x80) and the others are still granted.
     * When every callback ignores, authorization.no_match decides (default: allow).
     */
    STARLING_HOOK_AUTHORIZE_SUBSCRIBE = 3,
    /**
     * A client's connection was accepted (CONNACK sent). Event: starling_client_connected_event.
     * The return value is ignored; every callback is called.
     */
    STARLING_HOOK_CLIENT_CONNECTED = 4,
    /**
     * A connection that was announced with CLIENT_CONNECTED has ended. Event:
     * starling_client_disconnected_event. The return value is ignored; every callback is called.
     */
    STARLING_HOOK_CLIENT_DISCONNECTED = 5,

    /* ----- ABI 1.2: asynchronous decisions ----- */

    /**
     * A client sent CONNECT; called before authentication (and before enhanced
     * authentication), once the client id is known and valid. Event:
     * starling_client_connect_event. Return ALLOW, DENY, IGNORE or PENDING.
     * Chain rule: as starling_decision's. DENY refuses the connection with the event's
     * reason_code (preset 0x87; MQTT 3.1.1 clients get the nearest return code as for
     * STARLING_HOOK_AUTHENTICATE). ALLOW ends this hook's chain and IGNORE passes to the next
     * callback; either way the CONNECT then goes on to authentication: ALLOW here lets the
     * client try to connect, it does not authenticate it. When every callback ignores, the
     * CONNECT goes on as well.
     */
    STARLING_HOOK_CLIENT_CONNECT = 6,
    /**
     * MQTT 5 enhanced authentication (MQTT 5.0 section 4.12): a CONNECT carrying an
     * Authentication Method, an AUTH 0x18 (continue) answering the broker's AUTH 0x18, or an
     * AUTH 0x19 (re-authenticate) from a client that connected with a method. Event:
     * starling_enhanced_auth_event. A CONNECT with an Authentication Method is authenticated by
     * this hook alone (the authenticate hook is not called for it). Return:
     *   ALLOW    - authenticated: CONNACK 0x00 (re-authentication: AUTH 0x00), carrying the
     *              method and, when out_data_len > 0, out_data as Authentication Data.
     *   CONTINUE - send AUTH 0x18 with the method and out_data; the client's next AUTH goes to
     *              THIS callback alone (step STARLING_AUTH_CONTINUE), as does every later step
     *              of the exchange.
     *   DENY     - refused: CONNACK with reason_code (preset 0x87; 0x8C bad authentication
     *              method and the other CONNACK failure codes may be set). A failed
     *              re-authentication disconnects the client with DISCONNECT reason_code (0x87
     *              or 0x8C; any other code is sent as 0x87).
     *   IGNORE   - not this callback's method: the next callback is asked. At the first step,
     *              when every callback ignores (or none is registered) the broker refuses with
     *              CONNACK 0x8C (bad authentication method; re-authentication: DISCONNECT 0x8C);
     *              in the middle of an exchange IGNORE counts as DENY.
     *   PENDING  - answer later with host->complete_auth (which also takes CONTINUE and data)
     *              or host->complete (ALLOW / DENY / IGNORE, no data).
     * An exchange the client leaves unanswered is bounded by the keep alive / CONNECT timeout at
     * CONNECT; during re-authentication (the client stays connected and may keep pinging) by
     * plugin_loader.pending_timeout: a client that has not answered AUTH 0x18 by then is
     * disconnected with DISCONNECT 0x87 (not authorized).
     */
    STARLING_HOOK_ENHANCED_AUTH = 7,

    /* ----- ABI 1.2: message, subscription and session hooks ----- */

    /**
     * Every message before it is routed: a client's PUBLISH (after AUTHORIZE_PUBLISH allowed it),
     * a will, a plugin's host->publish, and the HTTP API's publish. (Messages the broker makes on
     * $SYS/ do not pass here.) Event: starling_message_publish_event. Return a
     * starling_hook_result: OK passes the message, as this callback left it, to the next
     * callback; STOP drops it and ends the chain. A callback may change the topic, payload, QoS,
     * retain flag, content type and user properties through the event's fields (see there); the
     * next callback sees the changed message, and subscribers get what the last one left.
     * A dropped QoS 1/2 message of a client is still acknowledged to it, as one that matched no
     * subscriber (MQTT 5: PUBACK/PUBREC 0x10; MQTT 3.1.1: a plain acknowledgement). Dropped
     * messages, and messages rewritten into something invalid (then dropped and logged), reach
     * MESSAGE_DROPPED callbacks with STARLING_DROP_PUBLISH_HOOK / STARLING_DROP_INVALID_REWRITE.
     * Any other return value is a plugin bug: logged, and the message is dropped as by STOP.
     * Cost: with no callback registered, none; each callback call builds no string (the event
     * points into the broker's own bytes), except the user property array of a message that has
     * user properties.
     */
    STARLING_HOOK_MESSAGE_PUBLISH = 8,
    /**
     * A PUBLISH was written to a subscriber's connection (once per copy; again, with dup set, for
     * a retransmission after reconnecting), or a message was handed to a plugin's own
     * subscription (host->subscribe; client_id "plugin:NAME", username NULL, packet_id 0, after
     * its callback returned). Event: starling_message_delivery_event. A notification: every
     * callback is called, the return value is ignored. Runs on the subscriber's event-loop thread
     * (for a plugin subscription, the thread of its callback).
     */
    STARLING_HOOK_MESSAGE_DELIVERED = 9,
    /**
     * A subscriber acknowledged a QoS 1 delivery (PUBACK) or completed a QoS 2 one (PUBCOMP).
     * Event: starling_message_delivery_event (dup is false). A notification, as MESSAGE_DELIVERED.
     */
    STARLING_HOOK_MESSAGE_ACKED = 10,
    /**
     * The broker dropped a message, or one subscriber's copy of it: the event's reason says why
     * (starling_drop_reason). Event: starling_message_dropped_event. A notification: every
     * callback is called, the return value is ignored. A message that AUTHORIZE_PUBLISH denied
     * never becomes one and is not reported here.
     */
    STARLING_HOOK_MESSAGE_DROPPED = 11,
    /**
     * One filter of a SUBSCRIBE, before anything else looks at it (validation,
     * AUTHORIZE_SUBSCRIBE). Event: starling_subscription_event. Return a starling_hook_result:
     * OK passes the filter (possibly rewritten through new_filter) to the next callback; STOP
     * refuses it (SUBACK 0x87; MQTT 3.1.1: 0x80) and ends the chain; the other filters of the
     * packet go on. The filter that leaves the chain is validated like the client's own (0x8F
     * topic filter invalid when it is not a filter) and then authorized. Any other return value
     * is logged and refuses the filter as STOP.
     */
    STARLING_HOOK_SUBSCRIBE = 12,
    /**
     * One filter of an UNSUBSCRIBE, before the subscription is removed. Event:
     * starling_subscription_event (qos is 0). As SUBSCRIBE: OK goes on with the (possibly
     * rewritten) filter; STOP keeps the subscription and answers UNSUBACK 0x87 (MQTT 3.1.1 has
     * no per-filter codes: the client is acknowledged and the subscription stays).
     */
    STARLING_HOOK_UNSUBSCRIBE = 13,
    /**
     * A new session was created for a client: no earlier one existed, or clean start discarded
     * it (then SESSION_ENDED with STARLING_SESSION_END_DISCARDED came first). Called before the
     * CONNACK. Event: starling_session_event. A notification.
     */
    STARLING_HOOK_SESSION_CREATED = 14,
    /**
     * A client resumed its existing session (clean start 0, CONNACK session present). When the
     * session's earlier connection was still open, SESSION_TAKEN_OVER comes first. Event:
     * starling_session_event. A notification.
     */
    STARLING_HOOK_SESSION_RESUMED = 15,
    /**
     * A new connection with the same client id and clean start 0 takes an online session over:
     * the old connection is closed (MQTT 5: DISCONNECT 0x8E) and the session moves on; called
     * on the old connection's thread, before SESSION_RESUMED. Event: starling_session_event.
     * A notification.
     */
    STARLING_HOOK_SESSION_TAKEN_OVER = 16,
    /**
     * A session ended; the event's reason says why (starling_session_end_reason). Sessions that
     * outlive a broker shutdown are not reported. Event: starling_session_event. A notification.
     */
    STARLING_HOOK_SESSION_ENDED = 17
} starling_hook;

/**
 * A hook callback. `event` points to the hook's event struct (cast it to the struct the hook
 * names); `user_data` is what was given to register_hook. Called on the client's event-loop
 * thread (see "Threads"); must not block. Returns a starling_decision for the authenticate and
 * authorize hooks, a starling_hook_result for MESSAGE_PUBLISH, SUBSCRIBE and UNSUBSCRIBE; the
 * value is ignored for the others (notifications).
 */
typedef int (*starling_hook_fn)(void *event, void *user_data);

/** STARLING_HOOK_AUTHENTICATE. */
typedef struct starling_authenticate_event {
    size_t struct_size;
    /** The client identifier; never empty (an empty one has been replaced by the assigned id). */
    const char *client_id;
    size_t client_id_len;
    /** The user name, or NULL when the client sent none. */
    const char *username;
    size_t username_len;
    /** The password bytes (binary, not NUL-terminated), or NULL when the client sent none. */
    const uint8_t *password;
    size_t password_len;
    /** "IP:PORT" (IPv6 as "[IP]:PORT") of the client's socket, or "" when unknown. */
    const char *peer_address;
    /** A starling_protocol_version. */
    int32_t protocol_version;
    /**
     * Out: the MQTT 5 CONNACK reason code sent on DENY. Preset to 0x86 (bad user name or
     * password); 0x87 (not authorized), 0x8A (banned) and the other CONNACK failure codes
     * (0x80-0x9F) may be set. An invalid code is replaced by 0x87 and logged.
     */
    int32_t reason_code;
    void *reserved[8];
    /* ----- ABI 1.2: asynchronous decisions ----- */
    /**
     * Non-zero: the callback may return STARLING_PENDING and answer later with
     * host->complete(plugin, ticket, decision, reason_code). Zero: it must answer now. Unique
     * among this broker's open tickets; a plain number, not a pointer. The strings and the
     * password are valid during the call only: copy what the later answer needs.
     */
    uint64_t ticket;
    /* ----- ABI 1.4: the client certificate ----- check STARLING_HAS_MEMBER(event, starling_authenticate_event, peer_cert_pem) */
    /*
     * The TLS certificate the client presented and the listener verified (an ssl or wss listener
     * with ssl_options.verify = "verify_peer"). All six are NULL and 0 for a client that presented
     * none or came over a listener without TLS (tcp, ws). The three come together: checking
     * peer_cert_pem with STARLING_HAS_MEMBER covers the others. Each string is NUL-terminated and
     * its length leaves the NUL out; compare by the length, since a certificate, unlike MQTT, may
     * put a NUL inside a name. The same for every event of one connection.
     */
    /**
     * The certificate's subject in RFC 4514 form, the most specific part first, as
     * `openssl x509 -noout -subject -nameopt RFC2253,-esc_msb` prints it: "CN=alice,O=Example,C=GB".
     */
    const char *peer_cert_dn;
    size_t peer_cert_dn_len;
    /** The subject's common name (its last CN, unescaped: "alice"); NULL when it has none. */
    const char *peer_cert_cn;
    size_t peer_cert_cn_len;
    /**
     * The verified chain in PEM, the client's own certificate first, then each issuer up to the
     * CA from the listener's cacertfile, as the listener verified them: per certificate
     * "-----BEGIN CERTIFICATE-----\n", its DER in base64 lines of 64 characters each ending in
     * "\n", "-----END CERTIFICATE-----\n" - what `openssl x509` writes. The first block is the
     * client's own certificate.
     */
    const char *peer_cert_pem;
    size_t peer_cert_pem_len;
} starling_authenticate_event;

/** STARLING_HOOK_AUTHORIZE_PUBLISH. */
typedef struct starling_authorize_publish_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The user name the client connected with, or NULL. */
    const char *username;
    size_t username_len;
    /** The topic name (a topic alias already resolved). */
    const char *topic;
    size_t topic_len;
    /** The payload bytes (NULL when payload_len is 0). */
    const uint8_t *payload;
    size_t payload_len;
    /** 0, 1 or 2. */
    int32_t qos;
    bool retain;
    void *reserved[8];
    /* ----- ABI 1.2: asynchronous decisions ----- */
    /**
     * Non-zero: the callback may return STARLING_PENDING and answer later with
     * host->complete(plugin, ticket, decision, 0). Topic and payload are valid during the call
     * only: copy what the later answer needs. The client's later packets wait for the answer.
     */
    uint64_t ticket;
    /* ----- ABI 1.3: the client's address ----- check STARLING_HAS_MEMBER(event, starling_authorize_publish_event, peer_address) */
    /**
     * "IP:PORT" (IPv6 as "[IP]:PORT") of the client's socket, as in starling_authenticate_event,
     * or "" when unknown; peer_address_len leaves the NUL out.
     */
    const char *peer_address;
    size_t peer_address_len;
    /* ----- ABI 1.4: the client certificate ----- check STARLING_HAS_MEMBER(event, starling_authorize_publish_event, peer_cert_pem) */
    /** The client's verified TLS certificate, as in starling_authenticate_event (NULL, 0: none). */
    const char *peer_cert_dn;
    size_t peer_cert_dn_len;
    const char *peer_cert_cn;
    size_t peer_cert_cn_len;
    const char *peer_cert_pem;
    size_t peer_cert_pem_len;
} starling_authorize_publish_event;

/** STARLING_HOOK_AUTHORIZE_SUBSCRIBE. */
typedef struct starling_authorize_subscribe_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The user name the client connected with, or NULL. */
    const char *username;
    size_t username_len;
    /** The topic filter as the client sent it (a shared one with its "$share/GROUP/" prefix). */
    const char *filter;
    size_t filter_len;
    /**
     * In/out: the QoS to grant - the one requested, capped by the node's maximum. A callback
     * that does not deny may lower it (the lowest value any callback leaves wins); raising it
     * has no effect.
     */
    int32_t qos;
    void *reserved[8];
    /* ----- ABI 1.2: asynchronous decisions ----- */
    /**
     * Non-zero: the callback may return STARLING_PENDING and answer later with
     * host->complete(plugin, ticket, decision, qos): qos -1 keeps the QoS as it stood, 0..2
     * may lower it (raising has no effect). The SUBACK (and the SUBSCRIBE's later filters) wait.
     */
    uint64_t ticket;
    /* ----- ABI 1.3: the client's address ----- check STARLING_HAS_MEMBER(event, starling_authorize_subscribe_event, peer_address) */
    /**
     * "IP:PORT" (IPv6 as "[IP]:PORT") of the client's socket, as in starling_authenticate_event,
     * or "" when unknown; peer_address_len leaves the NUL out.
     */
    const char *peer_address;
    size_t peer_address_len;
    /* ----- ABI 1.4: the client certificate ----- check STARLING_HAS_MEMBER(event, starling_authorize_subscribe_event, peer_cert_pem) */
    /** The client's verified TLS certificate, as in starling_authenticate_event (NULL, 0: none). */
    const char *peer_cert_dn;
    size_t peer_cert_dn_len;
    const char *peer_cert_cn;
    size_t peer_cert_cn_len;
    const char *peer_cert_pem;
    size_t peer_cert_pem_len;
} starling_authorize_subscribe_event;

/** STARLING_HOOK_CLIENT_CONNECTED. */
typedef struct starling_client_connected_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The user name, or NULL. */
    const char *username;
    size_t username_len;
    /** "IP:PORT" (IPv6 as "[IP]:PORT"), or "" when unknown. */
    const char *peer_address;
    /** A starling_protocol_version. */
    int32_t protocol_version;
    /** The keep alive in force, in seconds (0: none). */
    int32_t keep_alive;
    /** Clean start (MQTT 5) or clean session (3.1.1). */
    bool clean_start;
    /** True when an earlier session of this client id was resumed. */
    bool session_present;
    void *reserved[8];
} starling_client_connected_event;

/** Who ended a connection, in starling_client_disconnected_event. */
typedef enum starling_disconnect_initiator {
    /** The client sent DISCONNECT. */
    STARLING_DISCONNECT_BY_CLIENT = 1,
    /** The broker closed it: protocol error, keep alive timeout, take-over, kick, shutdown. */
    STARLING_DISCONNECT_BY_SERVER = 2,
    /** The socket closed without DISCONNECT. */
    STARLING_DISCONNECT_CONNECTION_LOST = 3
} starling_disconnect_initiator;

/** STARLING_HOOK_CLIENT_DISCONNECTED. */
typedef struct starling_client_disconnected_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The user name, or NULL. */
    const char *username;
    size_t username_len;
    /** A starling_disconnect_initiator. */
    int32_t initiator;
    /**
     * The MQTT 5 reason code of the DISCONNECT the client sent (BY_CLIENT) or the broker meant
     * (BY_SERVER: sent to MQTT 5 clients, e.g. 0x8E session taken over, 0x98 kicked by an
     * administrator, 0x8D keep alive timeout); 0 for CONNECTION_LOST.
     */
    int32_t reason_code;
    void *reserved[8];
} starling_client_disconnected_event;

/* ----- ABI 1.2: asynchronous decisions ----- */

/** STARLING_HOOK_CLIENT_CONNECT. */
typedef struct starling_client_connect_event {
    size_t struct_size;
    /** The client identifier; never empty (an empty one has been replaced by the assigned id). */
    const char *client_id;
    size_t client_id_len;
    /** The user name, or NULL when the client sent none. */
    const char *username;
    size_t username_len;
    /** "IP:PORT" (IPv6 as "[IP]:PORT") of the client's socket, or "" when unknown. */
    const char *peer_address;
    /** A starling_protocol_version. */
    int32_t protocol_version;
    /** The keep alive the client asked for, in seconds (0: none). */
    int32_t keep_alive;
    /** Clean start (MQTT 5) or clean session (3.1.1). */
    bool clean_start;
    /** True when the CONNECT carries a will message. */
    bool has_will;
    /** The MQTT 5 Authentication Method, or NULL when the CONNECT has none. */
    const char *auth_method;
    size_t auth_method_len;
    /**
     * Out: the MQTT 5 CONNACK reason code sent on DENY. Preset to 0x87 (not authorized); the
     * other CONNACK failure codes (0x8A banned, 0x9F connection rate exceeded ...) may be set.
     * An invalid code is replaced by 0x87 and logged.
     */
    int32_t reason_code;
    void *reserved[8];
    /** Non-zero: the callback may return STARLING_PENDING (as starling_authenticate_event's). */
    uint64_t ticket;
    /* ----- ABI 1.4: the client certificate ----- check STARLING_HAS_MEMBER(event, starling_client_connect_event, peer_cert_pem) */
    /** The client's verified TLS certificate, as in starling_authenticate_event (NULL, 0: none). */
    const char *peer_cert_dn;
    size_t peer_cert_dn_len;
    const char *peer_cert_cn;
    size_t peer_cert_cn_len;
    const char *peer_cert_pem;
    size_t peer_cert_pem_len;
} starling_client_connect_event;

/** Which step of MQTT 5 enhanced authentication a starling_enhanced_auth_event is. */
typedef enum starling_auth_step {
    /** The CONNECT carried an Authentication Method (and maybe Authentication Data). */
    STARLING_AUTH_CONNECT = 1,
    /** The client answered the broker's AUTH 0x18 with AUTH 0x18 (continue). */
    STARLING_AUTH_CONTINUE = 2,
    /** A connected client sent AUTH 0x19 (re-authenticate) with the method it connected with. */
    STARLING_AUTH_REAUTHENTICATE = 3
} starling_auth_step;

/** The largest Authentication Data MQTT carries; the capacity of the event's out_data buffer. */
#define STARLING_AUTH_DATA_MAX 65535

/** STARLING_HOOK_ENHANCED_AUTH. */
typedef struct starling_enhanced_auth_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The user name the CONNECT carried, or NULL. */
    const char *username;
    size_t username_len;
    /** "IP:PORT" (IPv6 as "[IP]:PORT") of the client's socket, or "" when unknown. */
    const char *peer_address;
    /** A starling_auth_step. */
    int32_t step;
    /** The Authentication Method (UTF-8, NUL-terminated); the same at every step of a client. */
    const char *method;
    size_t method_len;
    /** The client's Authentication Data (binary), or NULL when its packet had none. */
    const uint8_t *data;
    size_t data_len;
    /**
     * Out: Authentication Data for the broker's answer (AUTH 0x18 on CONTINUE; CONNACK or AUTH
     * 0x00 on ALLOW). `out_data` is a buffer of `out_data_capacity` (STARLING_AUTH_DATA_MAX)
     * bytes, owned by the broker and valid during the call; write up to that many bytes and set
     * out_data_len (preset 0: no Authentication Data). A larger out_data_len is a plugin bug:
     * the broker denies and logs it. Not read on PENDING (host->complete_auth carries the data).
     */
    uint8_t *out_data;
    size_t out_data_capacity;
    size_t out_data_len;
    /**
     * Out: the reason code on DENY. Preset to 0x87 (not authorized); 0x8C (bad authentication
     * method) and the other CONNACK failure codes may be set (re-authentication: 0x87 or 0x8C).
     */
    int32_t reason_code;
    void *reserved[8];
    /**
     * Non-zero: the callback may return STARLING_PENDING and answer later with
     * host->complete_auth (or host->complete).
     */
    uint64_t ticket;
} starling_enhanced_auth_event;
/* ----- ABI 1.2: message, subscription and session hooks ----- */

/**
 * What a MESSAGE_PUBLISH, SUBSCRIBE or UNSUBSCRIBE callback answers.
 *
 * Chain rule: callbacks run in order of priority (highest first; equal priorities in load
 * order). OK passes the message or filter - as this callback left it - to the next callback;
 * STOP drops the message / refuses the filter and ends the chain. Any other value is a plugin
 * bug: logged, and counted as STOP.
 */
typedef enum starling_hook_result {
    STARLING_HOOK_OK = 0,
    STARLING_HOOK_STOP = 1
} starling_hook_result;

/** Where a message entering the router came from (starling_message_publish_event.source). */
typedef enum starling_message_source {
    /** A client's PUBLISH. */
    STARLING_SOURCE_CLIENT = 1,
    /** A client's will. */
    STARLING_SOURCE_WILL = 2,
    /** A plugin's host->publish. */
    STARLING_SOURCE_PLUGIN = 3,
    /** The HTTP API's publish (an operator). */
    STARLING_SOURCE_API = 4
} starling_message_source;

/** Why a message, or one subscriber's copy, was dropped (starling_message_dropped_event.reason). */
typedef enum starling_drop_reason {
    /** No subscription matched the message. */
    STARLING_DROP_NO_SUBSCRIBERS = 1,
    /** The subscriber's queue was full (session.max_queued_messages / max_queued_bytes). */
    STARLING_DROP_QUEUE_FULL = 2,
    /** The message expired (MQTT 5 message expiry interval) before it could be sent. */
    STARLING_DROP_EXPIRED = 3,
    /** A QoS 0 copy for an offline subscriber (session.queue_qos0_offline is off). */
    STARLING_DROP_QOS0_OFFLINE = 4,
    /** Larger than the subscriber's maximum packet size (MQTT 5). */
    STARLING_DROP_TOO_LARGE = 5,
    /** A MESSAGE_PUBLISH callback returned STOP. */
    STARLING_DROP_PUBLISH_HOOK = 6,
    /** A MESSAGE_PUBLISH callback rewrote the message into something invalid. */
    STARLING_DROP_INVALID_REWRITE = 7,
    /** The subscriber's session is kept in the durable store, which is full (storage.max_bytes,
     *  or the disk): the copy could not be stored. Hosts without a durable store never report it. */
    STARLING_DROP_STORE_FULL = 8
} starling_drop_reason;

/** Why a session ended (starling_session_event.reason). */
typedef enum starling_session_end_reason {
    /** Its connection ended and it had no expiry interval (MQTT 3.1.1 clean session, or 0). */
    STARLING_SESSION_END_CLOSED = 1,
    /** Its expiry interval passed with no client connected. */
    STARLING_SESSION_END_EXPIRED = 2,
    /** A new connection with the same client id and clean start 1 discarded it. */
    STARLING_SESSION_END_DISCARDED = 3,
    /** Kicked by an operator (HTTP API) or a plugin (host->kick). */
    STARLING_SESSION_END_KICKED = 4
} starling_session_end_reason;

/** One MQTT 5 user property. Strings as everywhere: UTF-8, with their length in bytes. */
typedef struct starling_user_property {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} starling_user_property;

/**
 * STARLING_HOOK_MESSAGE_PUBLISH.
 *
 * How to change the message: set an "out" field to point at bytes of your own and return OK.
 * The broker copies them right after the callback returns, on the same thread, before it does
 * anything else there - so they must outlive the return by that much: a string literal, a static
 * or thread-local buffer, memory reachable from user_data that no other thread changes
 * meanwhile, or the event's own strings - never the callback's stack (a local array). After the
 * copy the plugin may reuse them. The broker checks the change and shows the next callback the
 * changed message (its `new_` fields start NULL again); the in-fields qos and retain are simply
 * overwritten. After STOP the out-fields are not read. Leave a field alone to keep what it describes: a callback that
 * changes nothing costs the broker nothing more. A rewritten topic must be a valid topic name
 * (not empty, no '+' or '#', no NUL, UTF-8, not starting with '$' except "$SYS/", within the
 * node's topic length and level limits); strings must be UTF-8 without NUL; qos must be 0..2 (a
 * QoS above the node's maximum is lowered to it). Anything else drops the message: logged
 * (naming the plugin), reported to MESSAGE_DROPPED as STARLING_DROP_INVALID_REWRITE.
 */
typedef struct starling_message_publish_event {
    size_t struct_size;
    /** A starling_message_source. */
    int32_t source;
    /** The publisher's client id (clients and wills), or NULL (plugins, the API). */
    const char *client_id;
    size_t client_id_len;
    /** The topic name (a topic alias already resolved). */
    const char *topic;
    size_t topic_len;
    /** The payload bytes (binary; NULL when payload_len is 0). */
    const uint8_t *payload;
    size_t payload_len;
    /** In/out: 0, 1 or 2. */
    int32_t qos;
    /** In/out: the RETAIN flag (retained when the node has retain available). */
    bool retain;
    /** The MQTT 5 content type, or NULL when the message has none. */
    const char *content_type;
    size_t content_type_len;
    /** The MQTT 5 user properties, in order (NULL when user_property_count is 0). */
    const starling_user_property *user_properties;
    size_t user_property_count;
    /** Out: a new topic, new_topic_len bytes (need not be NUL-terminated). */
    const char *new_topic;
    size_t new_topic_len;
    /** Out: a new payload, new_payload_len bytes; any non-NULL pointer with length 0 empties it. */
    const uint8_t *new_payload;
    size_t new_payload_len;
    /** Out: a new content type; any non-NULL pointer with length 0 removes it. */
    const char *new_content_type;
    size_t new_content_type_len;
    /**
     * Out: set replace_user_properties to true to replace every user property by the
     * new_user_property_count properties at new_user_properties (0: remove them all).
     */
    bool replace_user_properties;
    const starling_user_property *new_user_properties;
    size_t new_user_property_count;
    void *reserved[8];
    /** The publisher's user name (clients and wills), or NULL (none given, plugins, the API). */
    const char *username;
    size_t username_len;
} starling_message_publish_event;

/** STARLING_HOOK_MESSAGE_DELIVERED and STARLING_HOOK_MESSAGE_ACKED. Read only. */
typedef struct starling_message_delivery_event {
    size_t struct_size;
    /** The subscriber's client id. */
    const char *client_id;
    size_t client_id_len;
    /** The subscriber's user name, or NULL. */
    const char *username;
    size_t username_len;
    /** The publisher's client id, or NULL (plugins, the API). */
    const char *publisher_id;
    size_t publisher_id_len;
    const char *topic;
    size_t topic_len;
    /** The payload bytes (NULL when payload_len is 0). */
    const uint8_t *payload;
    size_t payload_len;
    /** The QoS of this delivery (the message's, capped by the subscription). */
    int32_t qos;
    /** The RETAIN flag as sent. */
    bool retain;
    /** A retransmission of an earlier delivery (always false for MESSAGE_ACKED). */
    bool dup;
    /** The packet identifier (0 for QoS 0). */
    uint16_t packet_id;
    void *reserved[8];
    /** The publisher's user name, or NULL (none given, plugins, the API, other nodes). */
    const char *publisher_username;
    size_t publisher_username_len;
} starling_message_delivery_event;

/** STARLING_HOOK_MESSAGE_DROPPED. Read only. */
typedef struct starling_message_dropped_event {
    size_t struct_size;
    /** A starling_drop_reason. */
    int32_t reason;
    /** The subscriber whose copy was dropped, or NULL when the whole message was. */
    const char *client_id;
    size_t client_id_len;
    /** The publisher's client id, or NULL (plugins, the API). */
    const char *publisher_id;
    size_t publisher_id_len;
    const char *topic;
    size_t topic_len;
    /** The payload bytes (NULL when payload_len is 0). */
    const uint8_t *payload;
    size_t payload_len;
    /** The QoS of the dropped copy (the message's own when there is no subscriber). */
    int32_t qos;
    void *reserved[8];
    /** The publisher's user name, or NULL (none given, plugins, the API, other nodes). */
    const char *publisher_username;
    size_t publisher_username_len;
} starling_message_dropped_event;

/**
 * STARLING_HOOK_SUBSCRIBE and STARLING_HOOK_UNSUBSCRIBE. To rewrite the filter, point new_filter
 * at new_filter_len bytes of your own (UTF-8 without NUL) and return OK; the broker copies them
 * right after the callback returns (so they must outlive the return: see
 * starling_message_publish_event) and the next callback sees the new filter. Bytes that are
 * not UTF-8 refuse the filter with 0x8F (topic filter invalid), logged.
 */
typedef struct starling_subscription_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The user name the client connected with, or NULL. */
    const char *username;
    size_t username_len;
    /** The filter (a shared one with its "$share/GROUP/" prefix), not yet validated. */
    const char *filter;
    size_t filter_len;
    /** The QoS requested (SUBSCRIBE); 0 for UNSUBSCRIBE. */
    int32_t qos;
    /** Out: a new filter, new_filter_len bytes (need not be NUL-terminated). */
    const char *new_filter;
    size_t new_filter_len;
    void *reserved[8];
} starling_subscription_event;

/** STARLING_HOOK_SESSION_CREATED, _RESUMED, _TAKEN_OVER and _ENDED. Read only. */
typedef struct starling_session_event {
    size_t struct_size;
    const char *client_id;
    size_t client_id_len;
    /** The session expiry interval in seconds (0: the session ends with its connection). */
    uint32_t expiry_interval;
    /** SESSION_ENDED: a starling_session_end_reason; 0 for the other hooks. */
    int32_t reason;
    void *reserved[8];
    /** The user name of the client the session belongs to (its latest connection), or NULL. */
    const char *username;
    size_t username_len;
} starling_session_event;

/* ----- ABI 1.2: services ----- types of the host functions subscribe ... call_function */

/**
 * A message delivered to a plugin's own subscription (host->subscribe). Owned by the broker and
 * valid during the callback only; copy what you keep. Strings are NUL-terminated, their length
 * in bytes (without the NUL) beside them; NULL (length 0) when absent.
 */
typedef struct starling_message_event {
    size_t struct_size;
    /** The subscription that matched, as host->subscribe returned it. */
    uint64_t subscription_id;
    /** The topic name. */
    const char *topic;
    size_t topic_len;
    /** The payload bytes (binary, not NUL-terminated; NULL when payload_len is 0). */
    const uint8_t *payload;
    size_t payload_len;
    /** The QoS it came with: the lower of the message's and the subscription's (0, 1 or 2). */
    int32_t qos;
    /** The message's retain flag as published. */
    bool retain;
    /** The publishing client's id, or NULL for a message the broker or a plugin published. */
    const char *publisher_id;
    size_t publisher_id_len;
    /** MQTT 5 payload format indicator: 0 (bytes) or 1 (UTF-8), -1 when the publisher set none. */
    int32_t payload_format;
    /** MQTT 5 content type, or NULL. */
    const char *content_type;
    size_t content_type_len;
    /** MQTT 5 response topic, or NULL. */
    const char *response_topic;
    size_t response_topic_len;
    /** MQTT 5 correlation data (binary), or NULL. */
    const uint8_t *correlation_data;
    size_t correlation_data_len;
    /** Seconds left before the message expires (MQTT 5 message expiry), or -1 when it does not. */
    int64_t expiry_seconds;
    void *reserved[8];
} starling_message_event;

/**
 * Called with each message matching a plugin subscription. `user_data` is what was given to
 * host->subscribe. Runs on one broker event-loop thread per subscription (see host->subscribe);
 * must return quickly and must not block. The return type is void: a plugin subscription takes
 * every message, there is nothing to acknowledge.
 */
typedef void (*starling_message_fn)(const starling_message_event *event, void *user_data);

/** Flags for host->subscribe (bitwise or). */
typedef enum starling_subscribe_flags {
    /** Also receive the messages this plugin publishes with host->publish (not the default). */
    STARLING_SUBSCRIBE_OWN_MESSAGES = 1
} starling_subscribe_flags;

/** Called when a timer of host->timer_start fires; see there for the thread. */
typedef void (*starling_timer_fn)(uint64_t timer_id, void *user_data);

/**
 * A function a plugin exports (host->export_function), stored as this generic type: cast yours,
 * e.g. (starling_function)my_add. It is called with the C types its signature declares:
 *   int64  -> int64_t     double -> double     bool -> bool
 *   string -> const char * as an argument (NUL-terminated UTF-8, owned by the caller, valid
 *             during the call only); as the result a char * the function allocated with
 *             malloc (strdup), which the broker frees (NULL reads as the empty string)
 *   void   -> the result only: returns nothing
 */
typedef void (*starling_function)(void);

/** The type tag of a starling_value. */
typedef enum starling_value_type {
    STARLING_VALUE_VOID = 0,
    STARLING_VALUE_INT64 = 1,
    STARLING_VALUE_DOUBLE = 2,
    STARLING_VALUE_BOOL = 3,
    STARLING_VALUE_STRING = 4
} starling_value_type;

/**
 * An argument or result of host->call_function: `type` says which member of `value` holds it.
 * A STRING argument points to NUL-terminated UTF-8 the caller owns; a STRING result was
 * allocated by the broker with malloc and belongs to the caller, who frees it:
 * free((void *)result.value.string).
 */
typedef struct starling_value {
    /** A starling_value_type. */
    int32_t type;
    union {
        int64_t int64;
        double real;
        bool boolean;
        const char *string;
    } value;
} starling_value;

/* ---------------------------------------------------------------------------------------------
 * Options and the broker's function table
 * ------------------------------------------------------------------------------------------- */

/**
 * One option from the plugin's configuration (`options = { key = "value" }` in its [[plugins]]
 * entry; numbers and booleans arrive as their text). Owned by the broker; both strings stay
 * valid until starling_plugin_cleanup() returns.
 */
typedef struct starling_option {
    const char *key;
    const char *value;
} starling_option;

/**
 * What the broker offers a plugin, handed to starling_plugin_init(). Owned by the broker and
 * valid until starling_plugin_cleanup() returns: keep the pointer, not a copy (a copy would
 * truncate a newer broker's larger table).
 *
 * Functions are only ever added at the end. Before calling one newer than the header the plugin
 * requires, check STARLING_HAS_MEMBER(host, starling_host_api, name).
 */
typedef struct starling_host_api {
    /** sizeof(starling_host_api) as the broker was built. */
    size_t struct_size;
    /** The ABI version the broker serves this plugin with (STARLING_PLUGIN_ABI_VERSION). */
    int32_t abi_version;
    /** The broker's STARLING_PLUGIN_ABI_MINOR. */
    int32_t abi_minor;
    /** The broker's version, e.g. "0.1.0". Static: valid for the life of the plugin. */
    const char *broker_version;

    /**
     * Registers `callback` for `hook` with `priority` (higher runs first; see the chain rule at
     * starling_decision). `user_data` is passed back to every call and is not touched by the
     * broker. A plugin may register several callbacks, also for one hook.
     *
     * Threads: only during starling_plugin_init(), on its thread. Callbacks become active when
     * init returns 0, all at once; if init fails, none ever runs.
     * Returns STARLING_OK; STARLING_ERR_INVALID when plugin or callback is NULL;
     * STARLING_ERR_UNSUPPORTED for a hook id this broker does not know; STARLING_ERR_STATE after
     * init has returned.
     */
    int (*register_hook)(starling_plugin *plugin, int32_t hook, starling_hook_fn callback,
                         int32_t priority, void *user_data);

    /**
     * Writes `message` (UTF-8, NUL-terminated; copied) to the broker's log at `level` (a
     * starling_log_level; an unknown one logs as ERROR), tagged with the plugin's name.
     * Threads: any, also threads the plugin started, until cleanup returns. Never fails.
     */
    void (*log)(starling_plugin *plugin, int32_t level, const char *message);

    /**
     * The value of option `name`, or NULL when the configuration does not set it. The string is
     * owned by the broker and valid until starling_plugin_cleanup() returns.
     * Threads: any, until cleanup returns.
     */
    const char *(*option)(starling_plugin *plugin, const char *name);

    /**
     * Publishes a message as the broker (no publisher client id; authorization hooks are not
     * consulted). `topic` is a topic name without wildcards, not starting with '$' except
     * "$SYS/"; `payload` may be NULL when `payload_len` is 0. Both are copied before the call
     * returns. The message is routed asynchronously, shortly after the call, in call order for
     * one thread. Retained when `retain` is true.
     * Threads: any, including inside a hook callback, until cleanup returns.
     * Returns STARLING_OK when queued; STARLING_ERR_INVALID for a bad topic, qos outside 0..2 or
     * a NULL payload with a non-zero length.
     */
    int (*publish)(starling_plugin *plugin, const char *topic, const void *payload,
                   size_t payload_len, int32_t qos, bool retain);

    /**
     * Disconnects the client with this client id (MQTT 5: DISCONNECT 0x98, administrative
     * action) and discards its session; its will is not published. Asynchronous: the client is
     * gone shortly after the call. `client_id` is copied.
     * Threads: any, including inside a hook callback, until cleanup returns.
     * Returns STARLING_OK; STARLING_ERR_NOT_FOUND when no session has this id;
     * STARLING_ERR_INVALID when client_id is NULL.
     */
    int (*kick)(starling_plugin *plugin, const char *client_id);

    /* ----- ABI 1.1 ----- check STARLING_HAS_MEMBER(host, starling_host_api, verify_password) */

    /**
     * True when `password` (`password_len` bytes, binary, not NUL-terminated; may be NULL when
     * the length is 0) matches `stored_hash`, a hash as Mosquitto's mosquitto_passwd writes it
     * (the part after "user:" on a line of its password file, NUL-terminated):
     *   $6$SALT$HASH               HASH = SHA-512(password bytes || salt bytes)
     *   $7$ITERATIONS$SALT$HASH    HASH = PBKDF2-HMAC-SHA512(password, salt, ITERATIONS, 64 bytes)
     * with SALT and HASH in standard base64 (mosquitto_passwd 2.0 writes $7$, 101 iterations,
     * a 12-byte salt). The final comparison takes the same time wherever the bytes differ.
     *
     * False also when stored_hash is NULL, not one of these formats, or malformed (an unknown
     * "$N$", bad base64, a hash that is not 64 bytes, ITERATIONS outside 1..1000000), and when
     * password is NULL with a non-zero length: a plugin that wants to tell those apart checks
     * the stored text itself. Both arguments are read during the call only.
     * Threads: any, including inside a hook callback; keeps no state. The cost grows with
     * ITERATIONS (101: a few microseconds) and is paid on the calling thread.
     */
    bool (*verify_password)(const char *stored_hash, const uint8_t *password, size_t password_len);

    /* ----- ABI 1.2: asynchronous decisions ----- check STARLING_HAS_MEMBER(host, starling_host_api, complete) */

    /**
     * Gives the answer of a callback that returned STARLING_PENDING for the event carrying
     * `ticket`. `decision` is STARLING_ALLOW, STARLING_DENY or STARLING_IGNORE (IGNORE resumes
     * the chain at the next callback). `value`:
     *   client_connect, authenticate, enhanced_auth: the reason code on DENY, as the event's
     *       reason_code (0 = the hook's preset; an invalid code is sent as 0x87 and logged);
     *   authorize_subscribe: the QoS to grant, 0..2, or -1 to keep it as it stood (it may only
     *       be lowered);
     *   authorize_publish: ignored.
     * The answer is taken over to the client's event-loop thread; the call does not wait for it
     * to be applied.
     * Threads: any, also inside a callback and even before the callback has returned PENDING,
     * until cleanup returns (cleanup is not called while the plugin has open tickets; see
     * "Asynchronous decisions" at starling_decision). An answer for a ticket whose callback then
     * returns anything but PENDING is a plugin bug: it is dropped (the callback's value counts).
     * Once per ticket. Returns STARLING_OK when the answer was taken; STARLING_ERR_NOT_FOUND for
     * a ticket that is unknown, not this plugin's, already answered, timed out
     * (plugin_loader.pending_timeout), or whose client has gone meanwhile (the answer is dropped;
     * there is nothing else to do); STARLING_ERR_INVALID for a NULL plugin or a decision other
     * than ALLOW, DENY and IGNORE (the ticket stays open).
     */
    int (*complete)(starling_plugin *plugin, uint64_t ticket, int32_t decision, int32_t value);

    /**
     * host->complete for STARLING_HOOK_ENHANCED_AUTH, with Authentication Data: `decision` may
     * also be STARLING_CONTINUE, and `data` (`data_len` bytes, at most STARLING_AUTH_DATA_MAX;
     * may be NULL when data_len is 0) is sent as out_data is on a synchronous answer. `data` is
     * read during the call only (copied). `reason_code` as host->complete's value. Threads and
     * results as host->complete; also STARLING_ERR_INVALID for data_len above
     * STARLING_AUTH_DATA_MAX, NULL data with a non-zero length, or CONTINUE for a ticket that is
     * not an enhanced_auth one.
     */
    int (*complete_auth)(starling_plugin *plugin, uint64_t ticket, int32_t decision, int32_t reason_code,
                         const uint8_t *data, size_t data_len);

    /* ----- ABI 1.2: services ----- check STARLING_HAS_MEMBER(host, starling_host_api, subscribe);
     * all eight come together. Each may be called from any thread (init, hook and message
     * callbacks, timers, threads the plugin started) until cleanup returns, except
     * export_function (init only); subscribe and timer_start answer STARLING_ERR_STATE once the
     * plugin is being unloaded. */

    /**
     * Subscribes the plugin itself to `filter` (MQTT syntax: '+' and '#' wildcards, and
     * "$share/GROUP/FILTER" to join a shared group - its messages are spread over the group's
     * members, clients and plugins alike). Each matching message is passed to `callback` with
     * `user_data`, as a starling_message_event; `qos` (0..2) caps the QoS the event reports.
     * Messages this plugin publishes with host->publish are skipped unless `flags` has
     * STARLING_SUBSCRIBE_OWN_MESSAGES. Retained messages are not replayed on subscribe. The
     * filter is copied; `*subscription_id` receives a non-zero id for host->unsubscribe.
     * A plugin may subscribe to one filter several times (each subscription is called).
     *
     * When: a subscription made during init receives messages from the moment the plugin is in
     * force (init returned 0); one made later, at once. On unload the plugin's subscriptions
     * end before cleanup is called. On reload the new version subscribes in its own init and
     * takes over in the same step as its hooks: each message goes to the old version or to the
     * new one, never to both, and none reaches the old one once its cleanup has started.
     *
     * Threads: the callback of one subscription always runs on the same broker event-loop
     * thread - the caller's if host->subscribe is called on one (inside a hook callback, say),
     * else one picked for it - one message after the other in routing order; different
     * subscriptions may be called at the same time on different threads. The callback must
     * return quickly: the clients of that thread wait meanwhile.
     *
     * Returns STARLING_OK; STARLING_ERR_INVALID when an argument is NULL, qos is outside 0..2 or
     * the filter is not a valid MQTT filter; STARLING_ERR_STATE during unload.
     */
    int (*subscribe)(starling_plugin *plugin, const char *filter, int32_t qos, uint32_t flags,
                     starling_message_fn callback, void *user_data, uint64_t *subscription_id);

    /**
     * Ends subscription `subscription_id`. No call of its callback starts after this returns;
     * a call already running on its thread may still be finishing (unless this is called from
     * inside that callback), so keep its user_data valid until cleanup, or free it from the
     * callback itself. Returns STARLING_OK; STARLING_ERR_NOT_FOUND for an id this plugin does
     * not hold (already ended, or another plugin's); STARLING_ERR_INVALID when plugin is NULL.
     */
    int (*unsubscribe)(starling_plugin *plugin, uint64_t subscription_id);

    /**
     * Adds `delta` (>= 0) to the counter `name` of this plugin, created at 0 on first use. Names
     * are [a-z_][a-z0-9_]* (at most 100 characters) and name a counter or a gauge for every
     * plugin alike. Exported as starling_plugin_<name>{plugin="<plugin name>"} in the Prometheus
     * text (GET /api/v1/prometheus; counters should end in _total) and as
     * "plugin.<plugin name>.<name>" in GET /api/v1/metrics. A plugin's metrics stay through a
     * reload (the new version counts on) and disappear when it is unloaded. `name` is read
     * during the call only. Cheap: a short lock to find the series, an atomic add.
     * Returns STARLING_OK; STARLING_ERR_INVALID for a NULL argument, a bad name or a negative
     * delta; STARLING_ERR_STATE when the name is already used by a gauge.
     */
    int (*counter_add)(starling_plugin *plugin, const char *name, int64_t delta);

    /**
     * Sets the gauge `name` of this plugin to `value` (see counter_add for names, export and
     * lifetime). Returns STARLING_OK; STARLING_ERR_INVALID for a NULL argument or a bad name;
     * STARLING_ERR_STATE when the name is already used by a counter.
     */
    int (*gauge_set)(starling_plugin *plugin, const char *name, int64_t value);

    /**
     * Starts a timer: `callback(timer_id, user_data)` is called `delay_ms` milliseconds from now,
     * then - when `repeat_ms` is not 0 - every `repeat_ms` milliseconds until cancelled (0: once).
     * `*timer_id` receives a non-zero id for timer_cancel. Both times at most one year.
     *
     * Threads: the callback runs on a broker event-loop thread - the caller's if it is one,
     * else one picked for the timer - the same for every firing; firings of one timer never
     * overlap. It must return quickly. It may start and cancel timers, its own included.
     * A timer started during init may fire before init returns. When the plugin is unloaded
     * (or replaced by a reload), its timers are cancelled and a firing already running is
     * waited for before cleanup is called; none fires afterwards.
     * Returns STARLING_OK; STARLING_ERR_INVALID for a NULL argument or a time over one year;
     * STARLING_ERR_STATE during unload.
     */
    int (*timer_start)(starling_plugin *plugin, uint64_t delay_ms, uint64_t repeat_ms,
                       starling_timer_fn callback, void *user_data, uint64_t *timer_id);

    /**
     * Cancels timer `timer_id` (a one-shot timer that has fired is gone already). No firing
     * starts after this returns; one running on its thread may still be finishing (see
     * unsubscribe about user_data). Returns STARLING_OK; STARLING_ERR_NOT_FOUND for an unknown
     * id; STARLING_ERR_INVALID when plugin is NULL.
     */
    int (*timer_cancel)(starling_plugin *plugin, uint64_t timer_id);

    /**
     * Exports `function` under `name` so that the broker (the HTTP API's
     * POST /api/v1/plugins/{plugin}/functions/{name}, `starling ctl plugins call`) and other
     * plugins (host->call_function) can call it. `name` is [A-Za-z_][A-Za-z0-9_]* (at most 100
     * characters), unique within the plugin. `signature` declares its C type as
     * "RESULT(ARG,ARG,...)" with the types int64, double, bool and string (and void as the
     * result), spaces ignored, at most 16 arguments - e.g. "int64(int64,int64)",
     * "string(string,bool)", "double()". See starling_function for the C types. It is called
     * through libffi exactly as declared: a signature that does not match the function's real
     * C type is undefined behaviour, as in C.
     *
     * Threads: export during init only (on its thread). The functions are callable from the
     * moment the plugin is in force, on whatever thread the caller is (several at once:
     * protect shared state). On unload or reload they disappear before cleanup: calls already
     * running finish first, later ones get STARLING_ERR_NOT_FOUND (or reach the new version).
     * `name` and `signature` are copied.
     * Returns STARLING_OK; STARLING_ERR_INVALID for a NULL argument, a bad name, a name already
     * exported by this plugin or a bad signature (the broker logs why); STARLING_ERR_STATE after
     * init has returned.
     */
    int (*export_function)(starling_plugin *plugin, const char *name, const char *signature,
                           starling_function function);

    /**
     * Calls function `name` exported by the plugin called `target_plugin` (this plugin's own
     * name works too) with `arg_count` arguments `args` (NULL when 0), and stores its result in
     * `*result` (type VOID for a void function; a STRING result is malloc'ed: free() it). The
     * arguments' types must match the signature exactly (no conversions). Runs the function
     * on the calling thread and returns when it has returned; the callee's unload waits for it.
     * Do not call a function of a plugin that is waiting for you (no deadlock detection).
     * Returns STARLING_OK; STARLING_ERR_NOT_FOUND when no loaded plugin of that name exports
     * that function; STARLING_ERR_INVALID for NULL arguments, a wrong argument count or type
     * (the broker logs which at debug level).
     */
    int (*call_function)(starling_plugin *plugin, const char *target_plugin, const char *name,
                         const starling_value *args, size_t arg_count, starling_value *result);
} starling_host_api;

/* ---------------------------------------------------------------------------------------------
 * The entry points a plugin exports
 * ------------------------------------------------------------------------------------------- */

/**
 * Returns STARLING_PLUGIN_ABI_VERSION, the version of this header the plugin was built with.
 * Called first, before anything else; must do nothing else.
 */
STARLING_PLUGIN_EXPORT int starling_plugin_version(void);

/**
 * Sets the plugin up: reads its options, allocates its state, registers its hook callbacks.
 *
 * `plugin` is this plugin's handle; `host` the broker's function table (keep the pointer);
 * `options` the `option_count` options from the configuration, sorted by key (NULL when there
 * are none). `*user_data` starts as NULL; what the plugin stores there is passed to cleanup.
 *
 * Returns 0 when ready. Any other value fails the load: the broker logs the value, does NOT
 * call cleanup (free what init allocated before failing), and unloads the image.
 * Threads: a broker control thread; called once per loaded image.
 */
STARLING_PLUGIN_EXPORT int starling_plugin_init(starling_plugin *plugin,
                                                const starling_host_api *host,
                                                const starling_option *options,
                                                size_t option_count, void **user_data);

/**
 * Releases everything the plugin holds and stops every thread it started; the image is unloaded
 * right after. Called once, after the plugin's callbacks have left the hook chain and every call
 * into them has returned. `user_data` is what init stored. A non-zero return is logged.
 * Threads: a broker control thread.
 */
STARLING_PLUGIN_EXPORT int starling_plugin_cleanup(starling_plugin *plugin, void *user_data);

/* ----- ABI 1.2 ----- */

/**
 * Optional: returns STARLING_PLUGIN_ABI_MINOR, the minor version of the header the plugin was
 * built with. Called once at load, right after starling_plugin_version(); must do nothing else.
 * A plugin that does not export it is taken as built for ABI 1.0 or 1.1 (minor 0): that matters
 * only for PENDING, which such a plugin cannot answer from authenticate, authorize_publish and
 * authorize_subscribe (their events carry ticket 0; see starling_decision). A negative value fails
 * the load. `starling ctl plugins list` and GET /api/v1/plugins show it as abi_minor.
 */
STARLING_PLUGIN_EXPORT int starling_plugin_abi_minor(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STARLING_PLUGIN_H */
