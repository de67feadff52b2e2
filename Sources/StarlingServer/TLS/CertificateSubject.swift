/// A certificate's subject, read from its DER bytes: NIOSSL gives the verified peer certificate
/// but not its subject. Only the path to the subject is walked (Certificate → tbsCertificate →
/// the sixth field); nothing else of the certificate is interpreted, and its signature was checked
/// by the handshake.
struct CertificateSubject: Equatable {
    /// One attribute of a relative distinguished name: its type (dotted OID) and value.
    struct Attribute: Equatable {
        var oid: String
        /// The value as a string; nil for a value that is no string type (then `der` is shown).
        var text: String?
        /// The value's DER encoding (tag, length, contents).
        var der: [UInt8]
    }

    /// The relative distinguished names in certificate order (the least specific, often C, first).
    var rdns: [[Attribute]]

    /// The subject of a DER-encoded X.509 certificate; nil when the bytes are no certificate.
    init?(certificateDER der: [UInt8]) {
        var reader = DERReader(der[...])
        guard var certificate = reader.read(tag: 0x30)?.contents, var tbs = certificate.read(tag: 0x30)?.contents else {
            return nil
        }
        if tbs.peekTag == 0xA0 { _ = tbs.read() }          // [0] version
        guard tbs.read(tag: 0x02) != nil,                 // serialNumber
              tbs.read(tag: 0x30) != nil,                 // signature
              tbs.read(tag: 0x30) != nil,                 // issuer
              tbs.read(tag: 0x30) != nil,                 // validity
              var subject = tbs.read(tag: 0x30)?.contents
        else { return nil }
        var rdns: [[Attribute]] = []
        while !subject.isAtEnd {
            guard var set = subject.read(tag: 0x31)?.contents else { return nil }
            var rdn: [Attribute] = []
            while !set.isAtEnd {
                guard var pair = set.read(tag: 0x30)?.contents, let oid = pair.read(tag: 0x06),
                      let value = pair.read() else { return nil }
                rdn.append(Attribute(oid: Self.dotted(oid.contents), text: Self.text(value), der: Array(value.whole)))
            }
            rdns.append(rdn)
        }
        self.rdns = rdns
    }

    init(rdns: [[Attribute]]) {
        self.rdns = rdns
    }

    /// The last (most specific) common name.
    var commonName: String? {
        rdns.joined().last { $0.oid == "2.5.4.3" }?.text
    }

    /// RFC 4514: the RDNs most specific first, joined by ",", the attributes of one RDN by "+" (in
    /// reverse order too, as OpenSSL prints them),
    /// short names for the usual types (and OpenSSL's for a few more), special characters escaped
    /// with a backslash, other characters as they are (UTF-8: `openssl x509 -nameopt RFC2253,-esc_msb`); another type as its dotted OID, a non-string value as "#" and its DER in hex.
    var distinguishedName: String {
        rdns.reversed().map { rdn in
            rdn.reversed().map { attribute in
                let name = Self.shortNames[attribute.oid] ?? attribute.oid
                guard let text = attribute.text, Self.shortNames[attribute.oid] != nil else {
                    return name + "=#" + Self.hex(attribute.der)
                }
                return name + "=" + Self.escaped(text)
            }.joined(separator: "+")
        }.joined(separator: ",")
    }

    static let shortNames: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O",
        "2.5.4.11": "OU", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
        "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.12": "title", "2.5.4.42": "GN",
        "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym", "1.2.840.113549.1.9.1": "emailAddress",
    ]

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }

    /// An attribute value escaped as RFC 4514 section 2.4 asks.
    static func escaped(_ value: String) -> String {
        var out = ""
        let characters = Array(value)
        for (index, character) in characters.enumerated() {
            let special = "\"+,;<>\\".contains(character)
                || (index == 0 && (character == "#" || character == " "))
                || (index == characters.count - 1 && character == " ")
            if character == "\0" {
                out += "\\00"
            } else {
                if special { out.append("\\") }
                out.append(character)
            }
        }
        return out
    }

    /// A string-typed value (UTF8String, PrintableString, IA5String, NumericString, T61String as
    /// Latin-1, BMPString, UniversalString); nil for any other type.
    private static func text(_ value: DERReader.Element) -> String? {
        let bytes = Array(value.contents.bytes)
        switch value.tag {
        case 0x0C, 0x13, 0x16, 0x12:
            return String(validating: bytes, as: UTF8.self)
        case 0x14:
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        case 0x1E:
            guard bytes.count.isMultiple(of: 2) else { return nil }
            let units = stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            return String(validating: units, as: UTF16.self)
        case 0x1C:
            guard bytes.count.isMultiple(of: 4) else { return nil }
            var scalars = String.UnicodeScalarView()
            for start in stride(from: 0, to: bytes.count, by: 4) {
                let value = bytes[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                guard let scalar = Unicode.Scalar(value) else { return nil }
                scalars.append(scalar)
            }
            return String(scalars)
        default:
            return nil
        }
    }

    /// An OBJECT IDENTIFIER's contents as dotted decimal.
    private static func dotted(_ contents: DERReader) -> String {
        var arcs: [UInt64] = []
        var value: UInt64 = 0
        for byte in contents.bytes {
            value = value << 7 | UInt64(byte & 0x7F)
            if byte & 0x80 == 0 {
                arcs.append(value)
                value = 0
            }
        }
        guard let first = arcs.first else { return "" }
        let head: [UInt64] = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
        return (head + arcs.dropFirst()).map(String.init).joined(separator: ".")
    }
}

/// Reads DER elements (one-byte tags, definite lengths) from a slice of bytes.
struct DERReader {
    struct Element {
        var tag: UInt8
        var contents: DERReader
        /// The whole element: tag, length and contents.
        var whole: ArraySlice<UInt8>
    }

    private(set) var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { bytes.isEmpty }
    var peekTag: UInt8? { bytes.first }

    /// The next element, if it has `tag`.
    mutating func read(tag: UInt8) -> Element? {
        guard peekTag == tag else { return nil }
        return read()
    }

    /// The next element; nil (and nothing consumed) when the bytes do not hold one.
    mutating func read() -> Element? {
        var index = bytes.startIndex
        guard index < bytes.endIndex, bytes[index] & 0x1F != 0x1F else { return nil }
        let tag = bytes[index]
        index += 1
        guard index < bytes.endIndex else { return nil }
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), bytes.endIndex - index >= count else { return nil }
            length = bytes[index..<index + count].reduce(0) { $0 << 8 | Int($1) }
            index += count
        }
        guard bytes.endIndex - index >= length else { return nil }
        let element = Element(tag: tag, contents: DERReader(bytes[index..<index + length]),
                              whole: bytes[bytes.startIndex..<index + length])
        bytes = bytes[(index + length)...]
        return element
    }
}
