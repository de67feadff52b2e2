import Foundation
import MQTTCore
import NIOCore
import StarlingKernel

/// A payload (or correlation data) in JSON: UTF-8 text as it is (`"plain"`), other bytes in base64.
enum PayloadEncoding: String, Sendable, CaseIterable {
    case plain
    case base64

    /// `bytes` as text and the encoding used.
    static func encode(_ bytes: [UInt8]) -> (text: String, encoding: PayloadEncoding) {
        if let text = String(validating: bytes, as: UTF8.self) { return (text, .plain) }
        return (Data(bytes).base64EncodedString(), .base64)
    }

    /// The bytes of `text` in this encoding; nil for invalid base64.
    func decode(_ text: String) -> [UInt8]? {
        switch self {
        case .plain: Array(text.utf8)
        case .base64: Data(base64Encoded: text).map(Array.init)
        }
    }
}

/// The 5.0 properties of a message, as `POST /publish` takes them and `GET /retained` shows them.
struct MessagePropertiesJSON: Encodable, Sendable {
    static let fieldNames: Set<String> = ["user_properties", "content_type", "message_expiry_interval",
                                          "payload_format_indicator", "response_topic", "correlation_data"]

    var userProperties: [String: String]?
    var contentType: String?
    var messageExpiryInterval: Int64?
    var payloadFormatIndicator: Int64?
    var responseTopic: String?
    /// As UTF-8 text; `correlation_data_base64` holds data that is not.
    var correlationData: String?
    var correlationDataBase64: String?

    /// Reads and checks the `properties` object of a publish request.
    init(_ fields: JSONFields) throws(APIError) {
        try fields.rejectUnknown(Self.fieldNames)
        if let user = try fields.object("user_properties") {
            var pairs: [String: String] = [:]
            for key in user.values.keys.sorted() { pairs[key] = try user.requiredString(key) }
            userProperties = pairs
        }
        contentType = try fields.string("content_type")
        messageExpiryInterval = try fields.int("message_expiry_interval", in: 0...Int64(UInt32.max))
        payloadFormatIndicator = try fields.int("payload_format_indicator", in: 0...1)
        if let topic = try fields.string("response_topic") {
            guard MQTTTopic.isValidName(topic) else {
                throw .badParameter(fields.name("response_topic"), "'\(topic)' is not a valid topic name")
            }
            responseTopic = topic
        }
        correlationData = try fields.string("correlation_data")
    }

    /// The properties of a stored message.
    init(_ properties: Properties) {
        let user = properties.userProperties
        userProperties = user.isEmpty ? nil : Dictionary(user, uniquingKeysWith: { _, last in last })
        contentType = properties.contentType
        messageExpiryInterval = properties.messageExpiryInterval.map(Int64.init)
        payloadFormatIndicator = properties.payloadFormatIndicator.map(Int64.init)
        responseTopic = properties.responseTopic
        if let data = properties.correlationData {
            let (text, encoding) = PayloadEncoding.encode(Array(data.readableBytesView))
            if encoding == .plain { correlationData = text } else { correlationDataBase64 = text }
        }
    }

    /// As MQTT properties.
    var properties: Properties {
        var result = Properties()
        if let payloadFormatIndicator { result.list.append(.payloadFormatIndicator(UInt8(payloadFormatIndicator))) }
        if let messageExpiryInterval { result.list.append(.messageExpiryInterval(UInt32(messageExpiryInterval))) }
        if let contentType { result.list.append(.contentType(contentType)) }
        if let responseTopic { result.list.append(.responseTopic(responseTopic)) }
        if let correlationData { result.list.append(.correlationData(ByteBuffer(string: correlationData))) }
        for (key, value) in (userProperties ?? [:]).sorted(by: { $0.key < $1.key }) {
            result.list.append(.userProperty(key, value))
        }
        return result
    }
}

/// One message of a `POST /publish` or `/publish/batch` request, checked.
struct PublishRequestJSON: Sendable {
    static let fieldNames: Set<String> = ["topic", "payload", "payload_encoding", "qos", "retain", "properties"]

    var topic: String
    var payload: [UInt8]
    var qos: QoS
    var retain: Bool
    var properties: Properties

    init(_ value: JSONValue, path: String = "") throws(APIError) {
        let fields = try JSONFields(value, path: path)
        try fields.rejectUnknown(Self.fieldNames)
        topic = try fields.requiredString("topic")
        guard MQTTTopic.isValidName(topic), !topic.hasPrefix("$") || topic.hasPrefix("$SYS/") else {
            throw .badParameter(fields.name("topic"), ManagementError.invalidTopic(topic).description)
        }
        var encoding = PayloadEncoding.plain
        if let name = try fields.string("payload_encoding") {
            guard let chosen = PayloadEncoding(rawValue: name) else {
                throw .badParameter(fields.name("payload_encoding"), "expected plain or base64, got '\(name)'")
            }
            encoding = chosen
        }
        let text = try fields.string("payload") ?? ""
        guard let bytes = encoding.decode(text) else {
            throw .badParameter(fields.name("payload"), "not valid base64")
        }
        payload = bytes
        qos = QoS(rawValue: UInt8(try fields.int("qos", in: 0...2) ?? 0))!
        retain = try fields.bool("retain") ?? false
        properties = try fields.object("properties").map { fields throws(APIError) in try MessagePropertiesJSON(fields).properties } ?? []
    }
}

/// A retained message in the API's JSON.
struct RetainedJSON: Encodable, Sendable {
    var topic: String
    var payload: String
    var payloadEncoding: String
    var qos: Int
    /// Seconds until it expires; null when it does not.
    @Nullable var expiresIn: Int64?
    var properties: MessagePropertiesJSON

    init(_ info: RetainedInfo) {
        topic = info.topic
        let (text, encoding) = PayloadEncoding.encode(info.payload)
        payload = text
        payloadEncoding = encoding.rawValue
        qos = info.qos
        expiresIn = info.expiresIn
        properties = MessagePropertiesJSON(info.properties)
    }

}
