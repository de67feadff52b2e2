import MQTTCore
import NIOCore

/// Why a client operation failed. Compare `code`; read `message` for the details.
public struct MQTTClientError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectFailed, connectionRefused, timeout, connectionClosed, protocolViolation, unexpectedResponse,
                 noFreePacketIdentifier, invalidArgument
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The TCP connection could not be made.
        public static let connectFailed = Code(.connectFailed)
        /// The server answered CONNECT with a failure (see `connAck`).
        public static let connectionRefused = Code(.connectionRefused)
        /// A bounded wait ran out.
        public static let timeout = Code(.timeout)
        /// The connection closed (see `disconnect` for the server's DISCONNECT, if any).
        public static let connectionClosed = Code(.connectionClosed)
        /// The connection closed because the server sent bytes the codec refused (see `protocolError`).
        public static let protocolViolation = Code(.protocolViolation)
        /// The server answered with a packet that does not fit the request.
        public static let unexpectedResponse = Code(.unexpectedResponse)
        /// All 65,535 packet identifiers are waiting for acknowledgements.
        public static let noFreePacketIdentifier = Code(.noFreePacketIdentifier)
        /// The caller passed something MQTT cannot carry (an invalid topic name, say).
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { "\(base)" }
    }

    public let code: Code
    public let message: String
    /// The CONNACK of a refused connection.
    public var connAck: ConnAck?
    /// The server's DISCONNECT, when the connection closed after one.
    public var disconnect: Disconnect?
    /// The codec's verdict on bytes the server sent.
    public var protocolError: MQTTProtocolError?

    init(_ code: Code, _ message: String, connAck: ConnAck? = nil, disconnect: Disconnect? = nil,
         protocolError: MQTTProtocolError? = nil) {
        self.code = code
        self.message = message
        self.connAck = connAck
        self.disconnect = disconnect
        self.protocolError = protocolError
    }

    public var description: String { "MQTT client error (\(code)): \(message)" }

    static func timeout(_ what: String, after timeout: TimeAmount) -> MQTTClientError {
        MQTTClientError(.timeout, "no \(what) within \(timeout.nanoseconds / 1_000_000) ms")
    }

    /// The connection is gone; says why when it knows.
    static func closed(disconnect: Disconnect?, protocolError: MQTTProtocolError?) -> MQTTClientError {
        var message = "connection closed"
        if let disconnect { message += " by the server with DISCONNECT \(disconnect.reasonCode)" }
        if let protocolError { message += " after \(protocolError)" }
        return MQTTClientError(protocolError == nil ? .connectionClosed : .protocolViolation, message,
                               disconnect: disconnect, protocolError: protocolError)
    }
}
