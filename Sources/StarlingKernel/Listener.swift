import Atomics
import NIOCore
import NIOPosix

/// Socket options shared by every MQTT listener (see DESIGN.md, "Threading").
public enum ListenerTuning {
    /// Starts small (idle connections are cheap) and grows for bursts, capped so a burst does
    /// not leave large buffers behind on many connections.
    public static var receiveAllocator: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 64 * 1024)
    }

    /// Above `high` pending bytes a connection stops taking QoS 0 messages directly; they wait
    /// in the session's bounded queue until the socket drains below `low`.
    public static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 512 * 1024)

    /// A server bootstrap for MQTT over TCP on `group`, handing connections to `broker`.
    /// - Parameter prepare: adds the handlers that go before MQTT in each connection's pipeline
    ///   (the server's TLS handlers); runs on the connection's loop.
    public static func tcpBootstrap(group: EventLoopGroup, broker: Broker, limit: ConnectionLimit,
                                    prepare: (@Sendable (Channel) throws -> Void)? = nil) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: receiveAllocator)
            .childChannelOption(.writeBufferWaterMark, value: writeBufferWaterMark)
            .childChannelInitializer { channel in
                guard let prepare else { return broker.configure(channel: channel, limit: limit) }
                return channel.eventLoop.makeCompletedFuture { try prepare(channel) }
                    .flatMap { broker.configure(channel: channel, limit: limit) }
            }
    }
}

/// The most MQTT connections one listener (or the whole node) holds at once. Counted at
/// CONNECT, so a refused client still hears why (CONNACK 0x97 quota exceeded).
public final class ConnectionLimit: Sendable {
    private let limit: ManagedAtomic<Int>
    private let current = ManagedAtomic<Int>(0)

    public init(maximum: Int) { limit = ManagedAtomic(maximum) }

    /// The limit; lowering it refuses new connections and keeps the ones already there.
    public var maximum: Int {
        get { limit.load(ordering: .relaxed) }
        set { limit.store(newValue, ordering: .relaxed) }
    }

    /// Takes a slot; false (and nothing taken) when the limit is reached.
    func acquire() -> Bool {
        if current.wrappingIncrementThenLoad(ordering: .relaxed) <= maximum { return true }
        current.wrappingDecrement(ordering: .relaxed)
        return false
    }

    func release() { current.wrappingDecrement(ordering: .relaxed) }

    public var count: Int { current.load(ordering: .relaxed) }
}
