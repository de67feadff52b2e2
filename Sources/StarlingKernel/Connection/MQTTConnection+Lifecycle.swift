import MQTTCore
import NIOCore

extension MQTTConnection {
    /// The client completed CONNECT: counts it and tells `client_connected` hooks and `$SYS` subscribers.
    func announceConnected(sessionPresent: Bool) {
        loopContext.stats.add(.connects)
        notifyConnectedHooks(sessionPresent: sessionPresent)
        guard loopContext.settings.sys.clientEvents else { return }
        let event = ClientConnectedEvent(
            clientId: clientId, username: username, ipAddress: channelContext.remoteAddress?.ipAddress,
            protocolLevel: version.rawValue, keepAlive: negotiatedKeepAlive, cleanStart: cleanStart,
            connectedAtMilliseconds: NIODeadline.wallClockMillisecondsNow)
        broker.publishClientEvent(event, from: loopContext)
    }

    /// The connection of an announced client has closed: counts why and tells `client_disconnected`
    /// hooks and `$SYS` subscribers.
    func announceDisconnected(reason: DisconnectReason, cause: CloseCause?) {
        loopContext.stats.add(.disconnected(reason))
        notifyDisconnectedHooks(cause: cause)
        guard loopContext.settings.sys.clientEvents else { return }
        let event = ClientDisconnectedEvent(clientId: clientId, username: username, reason: reason,
                                            disconnectedAtMilliseconds: NIODeadline.wallClockMillisecondsNow)
        broker.publishClientEvent(event, from: loopContext)
    }
}

extension DisconnectReason {
    /// The reason for a connection the server closes with DISCONNECT `code` (5.0) or would have.
    init(serverSent code: ReasonCode) {
        switch code {
        case .keepAliveTimeout: self = .keepaliveTimeout
        case .sessionTakenOver: self = .takeover
        case .administrativeAction: self = .kicked
        case .serverShuttingDown: self = .serverShutdown
        default: self = .protocolError
        }
    }
}
