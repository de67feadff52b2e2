import Foundation

/// The API's JSON conventions: snake_case keys, sorted for stable output, `/` not escaped.
public enum JSONCoding {
    /// Encodes Swift property names as snake_case keys.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Decodes snake_case keys into Swift property names.
    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
