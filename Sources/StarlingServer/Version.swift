/// Starling's version, as `starling version` prints it.
public let starlingVersion = "0.1.0"
