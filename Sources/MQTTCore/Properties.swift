import NIOCore

/// One MQTT 5.0 property (section 2.2.2.2), with its value typed.
public enum Property: Sendable, Hashable {
    case payloadFormatIndicator(UInt8)          // 0x01
    case messageExpiryInterval(UInt32)          // 0x02
    case contentType(String)                    // 0x03
    case responseTopic(String)                  // 0x08
    case correlationData(ByteBuffer)            // 0x09
    case subscriptionIdentifier(UInt32)         // 0x0B (variable byte integer)
    case sessionExpiryInterval(UInt32)          // 0x11
    case assignedClientIdentifier(String)       // 0x12
    case serverKeepAlive(UInt16)                // 0x13
    case authenticationMethod(String)           // 0x15
    case authenticationData(ByteBuffer)         // 0x16
    case requestProblemInformation(UInt8)       // 0x17
    case willDelayInterval(UInt32)              // 0x18
    case requestResponseInformation(UInt8)      // 0x19
    case responseInformation(String)            // 0x1A
    case serverReference(String)                // 0x1C
    case reasonString(String)                   // 0x1F
    case receiveMaximum(UInt16)                 // 0x21
    case topicAliasMaximum(UInt16)              // 0x22
    case topicAlias(UInt16)                     // 0x23
    case maximumQoS(UInt8)                      // 0x24
    case retainAvailable(UInt8)                 // 0x25
    case userProperty(String, String)           // 0x26
    case maximumPacketSize(UInt32)              // 0x27
    case wildcardSubscriptionAvailable(UInt8)   // 0x28
    case subscriptionIdentifierAvailable(UInt8) // 0x29
    case sharedSubscriptionAvailable(UInt8)     // 0x2A

    /// The property identifier on the wire.
    public var identifier: UInt8 {
        switch self {
        case .payloadFormatIndicator: return 0x01
        case .messageExpiryInterval: return 0x02
        case .contentType: return 0x03
        case .responseTopic: return 0x08
        case .correlationData: return 0x09
        case .subscriptionIdentifier: return 0x0B
        case .sessionExpiryInterval: return 0x11
        case .assignedClientIdentifier: return 0x12
        case .serverKeepAlive: return 0x13
        case .authenticationMethod: return 0x15
        case .authenticationData: return 0x16
        case .requestProblemInformation: return 0x17
        case .willDelayInterval: return 0x18
        case .requestResponseInformation: return 0x19
        case .responseInformation: return 0x1A
        case .serverReference: return 0x1C
        case .reasonString: return 0x1F
        case .receiveMaximum: return 0x21
        case .topicAliasMaximum: return 0x22
        case .topicAlias: return 0x23
        case .maximumQoS: return 0x24
        case .retainAvailable: return 0x25
        case .userProperty: return 0x26
        case .maximumPacketSize: return 0x27
        case .wildcardSubscriptionAvailable: return 0x28
        case .subscriptionIdentifierAvailable: return 0x29
        case .sharedSubscriptionAvailable: return 0x2A
        }
    }
}

/// The properties of one packet, in wire order. Empty for MQTT 3.1/3.1.1 packets.
///
/// Stored as a list so that an empty set costs nothing to copy and the wire order
/// (which matters for user properties) survives a round trip; typed accessors read
/// and write single properties.
public struct Properties: Sendable, Hashable, ExpressibleByArrayLiteral {
    public var list: [Property]

    public init() { list = [] }
    public init(_ list: [Property]) { self.list = list }
    public init(arrayLiteral elements: Property...) { list = elements }

    @inlinable public var isEmpty: Bool { list.isEmpty }

    public mutating func append(_ property: Property) { list.append(property) }

    /// Replaces the first property with `identifier` by `property` (or removes it when `nil`).
    private mutating func set(_ identifier: UInt8, _ property: Property?) {
        if let index = list.firstIndex(where: { $0.identifier == identifier }) {
            if let property { list[index] = property } else { list.remove(at: index) }
        } else if let property {
            list.append(property)
        }
    }

    private func first<T>(_ extract: (Property) -> T?) -> T? {
        for property in list { if let value = extract(property) { return value } }
        return nil
    }

    public var payloadFormatIndicator: UInt8? {
        get { first { if case .payloadFormatIndicator(let v) = $0 { v } else { nil } } }
        set { set(0x01, newValue.map { .payloadFormatIndicator($0) }) }
    }
    public var messageExpiryInterval: UInt32? {
        get { first { if case .messageExpiryInterval(let v) = $0 { v } else { nil } } }
        set { set(0x02, newValue.map { .messageExpiryInterval($0) }) }
    }
    public var contentType: String? {
        get { first { if case .contentType(let v) = $0 { v } else { nil } } }
        set { set(0x03, newValue.map { .contentType($0) }) }
    }
    public var responseTopic: String? {
        get { first { if case .responseTopic(let v) = $0 { v } else { nil } } }
        set { set(0x08, newValue.map { .responseTopic($0) }) }
    }
    public var correlationData: ByteBuffer? {
        get { first { if case .correlationData(let v) = $0 { v } else { nil } } }
        set { set(0x09, newValue.map { .correlationData($0) }) }
    }
    /// All subscription identifiers (a PUBLISH may carry several).
    public var subscriptionIdentifiers: [UInt32] {
        get { list.compactMap { if case .subscriptionIdentifier(let v) = $0 { v } else { nil } } }
        set {
            list.removeAll { $0.identifier == 0x0B }
            list.append(contentsOf: newValue.map { .subscriptionIdentifier($0) })
        }
    }
    public var sessionExpiryInterval: UInt32? {
        get { first { if case .sessionExpiryInterval(let v) = $0 { v } else { nil } } }
        set { set(0x11, newValue.map { .sessionExpiryInterval($0) }) }
    }
    public var assignedClientIdentifier: String? {
        get { first { if case .assignedClientIdentifier(let v) = $0 { v } else { nil } } }
        set { set(0x12, newValue.map { .assignedClientIdentifier($0) }) }
    }
    public var serverKeepAlive: UInt16? {
        get { first { if case .serverKeepAlive(let v) = $0 { v } else { nil } } }
        set { set(0x13, newValue.map { .serverKeepAlive($0) }) }
    }
    public var authenticationMethod: String? {
        get { first { if case .authenticationMethod(let v) = $0 { v } else { nil } } }
        set { set(0x15, newValue.map { .authenticationMethod($0) }) }
    }
    public var authenticationData: ByteBuffer? {
        get { first { if case .authenticationData(let v) = $0 { v } else { nil } } }
        set { set(0x16, newValue.map { .authenticationData($0) }) }
    }
    public var requestProblemInformation: UInt8? {
        get { first { if case .requestProblemInformation(let v) = $0 { v } else { nil } } }
        set { set(0x17, newValue.map { .requestProblemInformation($0) }) }
    }
    public var willDelayInterval: UInt32? {
        get { first { if case .willDelayInterval(let v) = $0 { v } else { nil } } }
        set { set(0x18, newValue.map { .willDelayInterval($0) }) }
    }
    public var requestResponseInformation: UInt8? {
        get { first { if case .requestResponseInformation(let v) = $0 { v } else { nil } } }
        set { set(0x19, newValue.map { .requestResponseInformation($0) }) }
    }
    public var responseInformation: String? {
        get { first { if case .responseInformation(let v) = $0 { v } else { nil } } }
        set { set(0x1A, newValue.map { .responseInformation($0) }) }
    }
    public var serverReference: String? {
        get { first { if case .serverReference(let v) = $0 { v } else { nil } } }
        set { set(0x1C, newValue.map { .serverReference($0) }) }
    }
    public var reasonString: String? {
        get { first { if case .reasonString(let v) = $0 { v } else { nil } } }
        set { set(0x1F, newValue.map { .reasonString($0) }) }
    }
    public var receiveMaximum: UInt16? {
        get { first { if case .receiveMaximum(let v) = $0 { v } else { nil } } }
        set { set(0x21, newValue.map { .receiveMaximum($0) }) }
    }
    public var topicAliasMaximum: UInt16? {
        get { first { if case .topicAliasMaximum(let v) = $0 { v } else { nil } } }
        set { set(0x22, newValue.map { .topicAliasMaximum($0) }) }
    }
    public var topicAlias: UInt16? {
        get { first { if case .topicAlias(let v) = $0 { v } else { nil } } }
        set { set(0x23, newValue.map { .topicAlias($0) }) }
    }
    public var maximumQoS: UInt8? {
        get { first { if case .maximumQoS(let v) = $0 { v } else { nil } } }
        set { set(0x24, newValue.map { .maximumQoS($0) }) }
    }
    public var retainAvailable: UInt8? {
        get { first { if case .retainAvailable(let v) = $0 { v } else { nil } } }
        set { set(0x25, newValue.map { .retainAvailable($0) }) }
    }
    /// User properties in wire order; names may repeat.
    public var userProperties: [(String, String)] {
        get { list.compactMap { if case .userProperty(let k, let v) = $0 { (k, v) } else { nil } } }
        set {
            list.removeAll { $0.identifier == 0x26 }
            list.append(contentsOf: newValue.map { .userProperty($0.0, $0.1) })
        }
    }
    public var maximumPacketSize: UInt32? {
        get { first { if case .maximumPacketSize(let v) = $0 { v } else { nil } } }
        set { set(0x27, newValue.map { .maximumPacketSize($0) }) }
    }
    public var wildcardSubscriptionAvailable: UInt8? {
        get { first { if case .wildcardSubscriptionAvailable(let v) = $0 { v } else { nil } } }
        set { set(0x28, newValue.map { .wildcardSubscriptionAvailable($0) }) }
    }
    public var subscriptionIdentifierAvailable: UInt8? {
        get { first { if case .subscriptionIdentifierAvailable(let v) = $0 { v } else { nil } } }
        set { set(0x29, newValue.map { .subscriptionIdentifierAvailable($0) }) }
    }
    public var sharedSubscriptionAvailable: UInt8? {
        get { first { if case .sharedSubscriptionAvailable(let v) = $0 { v } else { nil } } }
        set { set(0x2A, newValue.map { .sharedSubscriptionAvailable($0) }) }
    }
}
