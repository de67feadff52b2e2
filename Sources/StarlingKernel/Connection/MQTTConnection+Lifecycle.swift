import MQTTCore
import NIOCore

extension MQTTConnection {
    /// The client completed CONNECT: counts it and tells `$SYS` subscribers.
    func announceConnected() {
        announcedConnected = true
        loopContext.stats.add(.connects)
        guard loopContext.settings.sys.clientEvents else { return }
        let event = ClientConnectedEvent(
            clientId: clientId, username: username, ipAddress: channelContext.remoteAddress?.ipAddress,
            protocolLevel: version.rawValue, keepAlive: negotiatedKeepAlive, cleanStart: cleanStart,
            connectedAtMilliseconds: NIODeadline.wallClockMillisecondsNow)
        broker.publishClientEvent(event, from: loopContext)
    }

    /// The connection of an announced client has closed: counts why and tells `$SYS` subscribers.
    func announceDisconnected(reason: DisconnectReason) {
        loopContext.stats.add(.disconnected(reason))
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
