import MQTTCore
import NIOCore

/// What the phase says, for the connection and its session; and how a connection ends.
extension MQTTConnection {
    /// Not closed (nor closing): packets are read and answers written.
    @inline(__always)
    var isOpen: Bool {
        switch phase {
        case .closing, .closed: false
        default: true
        }
    }

    /// The client may be sent PUBLISH (and a 5.0 DISCONNECT): its CONNECT is accepted.
    @inline(__always)
    var canSend: Bool {
        switch phase {
        case .claimingSession, .connected: true
        default: false
        }
    }

    /// Open and not waiting for a hook's answer: the next packet may be handled. Read once per
    /// packet, so it looks at the phase once and takes no reference to its data.
    @inline(__always)
    var handlesPackets: Bool {
        switch phase {
        case .idle, .awaitingConnect, .claimingSession: true
        case .authenticating(let attempt): attempt.pending == nil
        case .connected(let client): client.pending == nil
        case .closing, .closed: false
        }
    }

    /// CONNACK sent and the session attached.
    var isConnected: Bool {
        if case .connected = phase { return true }
        return false
    }

    /// The hook's answer the connection waits for (see `MQTTConnection+Suspension`): kept by the
    /// phase whose step asked (authenticating or connected), and by closing until the channel goes.
    var suspension: Suspension? {
        get {
            switch phase {
            case .authenticating(let attempt): attempt.pending
            case .connected(let client): client.pending
            case .closing(let ending): ending.pending
            case .idle, .awaitingConnect, .claimingSession, .closed: nil
            }
        }
        set {
            switch phase {
            case .authenticating(let attempt): attempt.pending = newValue
            case .connected(let client): client.pending = newValue
            case .closing(let ending): ending.pending = newValue
            case .idle, .awaitingConnect, .claimingSession, .closed:
                assert(newValue == nil, "a hook's answer pending in phase \(phase.kind)")
            }
        }
    }

    /// Forgets the will: the session ends without it (kicked, or the node stops).
    func dropWill() {
        assertOnLoop()
        switch phase {
        case .claimingSession(let claim): claim.will = nil
        case .connected(let client): client.will = nil
        case .closing(let ending): ending.will = nil
        case .idle, .awaitingConnect, .authenticating, .closed: break
        }
    }

    // MARK: - Closing

    /// Sends a 5.0 DISCONNECT with `reasonCode` (3.1.1 has none) and closes. The will stays set:
    /// a connection the server closes for a fault publishes its will.
    func disconnect(_ reasonCode: ReasonCode, reason: String, takenOver: Bool = false) {
        assertOnLoop()
        guard isOpen else { return }
        if version == .v5 && canSend {
            var properties = Properties()
            if requestProblemInformation { properties.reasonString = reason }
            sendAck(.disconnect(Disconnect(reasonCode: reasonCode, properties: properties)))
        }
        logger.debug("closing connection: \(reason)", metadata: ["reason_code": "\(reasonCode)"])
        close(reason: DisconnectReason(serverSent: reasonCode), cause: (.server, reasonCode), takenOver: takenOver)
    }

    /// A packet could not be decoded or broke a protocol rule.
    func protocolViolation(_ error: MQTTProtocolError) {
        logger.info("protocol error: \(error)")
        switch phase {
        case .idle, .awaitingConnect:
            if case .unsupportedProtocolVersion = error.kind {
                // Answer in 3.1.1 form (return code 1): the client's level is unknown to us.
                version = .v3_1_1
                sendConnAck(ConnAck(reasonCode: .unsupportedProtocolVersion))
            } else if let attempted = decoder.version, attempted == .v5 {
                version = .v5
                sendConnAck(ConnAck(reasonCode: error.reasonCode))
            }
            close()
        default:
            disconnect(error.reasonCode, reason: error.description)
        }
    }

    func sendConnAck(_ connAck: ConnAck) {
        sendAck(.connack(connAck))
    }

    /// Closes the channel after flushing what was written. `reason` and `cause` say why, for the
    /// disconnect's announcement; `takenOver`: the session has gone to another connection.
    func close(reason: DisconnectReason? = nil, cause: CloseCause? = nil, takenOver: Bool = false) {
        assertOnLoop()
        guard isOpen else { return }
        move(to: .closing(ConnectionEnding(phase, reason: reason, cause: cause, takenOver: takenOver)))
        needsFlush = false
        channelContext.flush()
        channelContext.close(promise: nil)
    }

    /// The client id connected again elsewhere: sends DISCONNECT 0x8E (5.0), closes, and gives
    /// the will (if any) with its delay to the session to decide on.
    func takeOver() -> (message: Message, delay: UInt32)? {
        assertOnLoop()
        let taken: LastWill?
        switch phase {
        case .claimingSession(let claim): taken = claim.will
        case .connected(let client): taken = client.will
        case .closing(let ending):
            taken = ending.will
            ending.session = nil
        case .idle, .awaitingConnect, .authenticating, .closed: taken = nil
        }
        dropWill()
        disconnect(.sessionTakenOver, reason: "another connection took the session over", takenOver: true)
        return taken.map { ($0.message, $0.delay) }
    }

    /// The node is stopping: 5.0 clients hear why.
    func shutDown() {
        assertOnLoop()
        dropWill()
        disconnect(.serverShuttingDown, reason: "server shutting down")
    }
}
