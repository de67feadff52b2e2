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
 * exactly three functions, declared at the end of this header:
 *
 *   int starling_plugin_version(void);          return STARLING_PLUGIN_ABI_VERSION
 *   int starling_plugin_init(...);              register hooks, read options; 0 = ready
 *   int starling_plugin_cleanup(...);           free everything; the image is unloaded next
 *
 * Everything else in the plugin should be `static`, so that `nm -D --defined-only plugin.so`
 * lists these three and nothing more. Build a C plugin with
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
 * - Coming in later minor versions, at the end of the enums and the table: message hooks (publish, delivered, acked, dropped),
 *   session hooks, subscribing on the plugin's own behalf, metrics, timers and functions exported for libffi calls. Nothing of that is declared before the broker does it.
 *
 * ==========================================================================================
 * Threads
 * ==========================================================================================
 *
 * The broker runs several event-loop threads; each client lives on one of them. Hook callbacks
 * run on the thread of the client concerned: calls for one client never overlap and come in the
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
 *       (starling_enhanced_auth_event, starling_auth_step) and STARLING_CONTINUE.
 */
#define STARLING_PLUGIN_ABI_MINOR 2

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
     * An exchange the client leaves unanswered is bounded by the keep alive / CONNECT timeout.
     */
    STARLING_HOOK_ENHANCED_AUTH = 7
} starling_hook;

/**
 * A hook callback. `event` points to the hook's event struct (cast it to the struct the hook
 * names); `user_data` is what was given to register_hook. Called on the client's event-loop
 * thread (see "Threads"); must not block. Returns a starling_decision for the authenticate and
 * authorize hooks; the value is ignored for the others.
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
     * "Asynchronous decisions" at starling_decision).
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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STARLING_PLUGIN_H */
