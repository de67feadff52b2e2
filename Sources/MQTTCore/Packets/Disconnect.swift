/// DISCONNECT (section 3.14). 3.1.1 carries neither reason code nor properties.
public struct Disconnect: Sendable, Hashable {
    public var reasonCode: ReasonCode
    public var properties: Properties

    public init(reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// AUTH (section 3.15, 5.0 only): enhanced authentication exchange.
public struct Auth: Sendable, Hashable {
    public var reasonCode: ReasonCode
    public var properties: Properties

    public init(reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
