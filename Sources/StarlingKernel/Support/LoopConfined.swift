import NIOCore

/// A type whose mutable state lives on one event loop and is touched only there, which is why it
/// may be `@unchecked Sendable`. Its entry points (what other types call) begin with
/// `assertOnLoop()`: a debug build stops at the first call made off the loop, as SwiftNIO's
/// `assertInEventLoop` does; a release build compiles the check away.
public protocol LoopConfined: AnyObject {
    /// The loop the state lives on.
    var loop: EventLoop { get }
}

extension LoopConfined {
    /// Asserts, in debug builds only, that the caller runs on `loop`.
    @inlinable @inline(__always)
    public func assertOnLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(loop.inEventLoop, "\(Self.self) used off its event loop", file: file, line: line)
    }
}
