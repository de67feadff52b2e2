// The three hook callbacks: copy what the question needs out of the broker's event (valid during
// the call only) and answer at once (cache) or PENDING. They run on the client's event-loop
// thread and never wait for the network. Closures that capture nothing are C function pointers.
import CStarlingPlugin
import Foundation

private func state(_ userData: UnsafeMutableRawPointer) -> AuthHTTP {
    Unmanaged<AuthHTTP>.fromOpaque(userData).takeUnretainedValue()
}

/// What a callback answers for a NULL event or user_data (never sent by the broker): no opinion.
private let noOpinion = Int32(STARLING_IGNORE.rawValue)

private func code(_ answer: AuthHTTP.Answer) -> Int32 {
    switch answer {
    case .decided(let decision, _): decision.code
    case .pending: Int32(STARLING_PENDING.rawValue)
    }
}

/// STARLING_HOOK_AUTHENTICATE.
let onAuthenticate: starling_hook_fn = { event, userData in
    guard let event, let userData else { return noOpinion }
    let auth = state(userData)
    let connect = event.assumingMemoryBound(to: starling_authenticate_event.self)
    let e = connect.pointee
    let clientId = Query.text(e.client_id, e.client_id_len) ?? ""
    let query = Query(kind: .authenticate, fields: [
        ("clientid", .text(clientId)),
        ("username", .text(Query.text(e.username, e.username_len) ?? "")),
        ("password", .text(Query.text(e.password, e.password_len) ?? "")),
        ("peerhost", .text(Query.peerHost(e.peer_address.map { String(cString: $0) } ?? ""))),
        ("protocol", .number(Int(e.protocol_version))),
    ])
    let answer = auth.decide(query, url: auth.options.authURL!, ticket: ticket(of: connect, size: e.struct_size, at: \.ticket),
                             who: "authenticate \(clientId)") { decision, failed in
        decision == .deny && failed ? AuthHTTP.errorReasonCode : 0
    }
    if case .decided(.deny, failed: true) = answer { connect.pointee.reason_code = AuthHTTP.errorReasonCode }
    return code(answer)
}

/// Asks acl_url whether `clientId` may publish to / subscribe to `topic` at `qos`.
private func authorize(_ auth: AuthHTTP, _ kind: Query.Kind, ticket: UInt64, clientId: String, username: String?,
                       topic: String, qos: Int32, retain: Bool?, value: Int32) -> Int32 {
    let action = kind == .publish ? "publish" : "subscribe"
    var fields: [(name: String, value: Query.Field)] = [
        ("clientid", .text(clientId)), ("username", .text(username ?? "")), ("topic", .text(topic)),
        ("action", .text(action)), ("qos", .number(Int(qos))),
    ]
    if let retain { fields.append(("retain", .flag(retain))) }
    return code(auth.decide(Query(kind: kind, fields: fields), url: auth.options.aclURL!, ticket: ticket,
                            who: "\(action) \(clientId) \(topic)") { _, _ in value })
}

/// STARLING_HOOK_AUTHORIZE_PUBLISH.
let onAuthorizePublish: starling_hook_fn = { event, userData in
    guard let event, let userData else { return noOpinion }
    let publish = event.assumingMemoryBound(to: starling_authorize_publish_event.self)
    let e = publish.pointee
    return authorize(state(userData), .publish, ticket: ticket(of: publish, size: e.struct_size, at: \.ticket),
                     clientId: Query.text(e.client_id, e.client_id_len) ?? "", username: Query.text(e.username, e.username_len),
                     topic: Query.text(e.topic, e.topic_len) ?? "", qos: e.qos, retain: e.retain, value: 0)  // value unused
}

/// STARLING_HOOK_AUTHORIZE_SUBSCRIBE.
let onAuthorizeSubscribe: starling_hook_fn = { event, userData in
    guard let event, let userData else { return noOpinion }
    let subscribe = event.assumingMemoryBound(to: starling_authorize_subscribe_event.self)
    let e = subscribe.pointee
    return authorize(state(userData), .subscribe, ticket: ticket(of: subscribe, size: e.struct_size, at: \.ticket),
                     clientId: Query.text(e.client_id, e.client_id_len) ?? "", username: Query.text(e.username, e.username_len),
                     topic: Query.text(e.filter, e.filter_len) ?? "", qos: e.qos, retain: nil,
                     value: -1)  // -1: grant the QoS as it stood
}
