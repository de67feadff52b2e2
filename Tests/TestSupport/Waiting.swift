// Waiting helpers shared by every Swift test target: bounded waits, a timeout around any async
// body, and a recorder of what an AsyncStream yields. One definition, so a fix reaches every suite.
import Foundation

/// A bounded wait ran out (or a test helper could not get what it waited for).
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` and returns its result, or throws once `timeout` has passed — even when `body` does not react
/// to cancellation (it is cancelled and left to finish on its own).
public func withTimeout<T: Sendable>(_ timeout: Duration, _ what: String,
                              _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = Race<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation,
                       work: Task { race.finish(await Result(catching: { try await body() })) },
                       timer: Task {
                           try? await Task.sleep(for: timeout)
                           race.finish(.failure(TestSupportError("no \(what) within \(timeout)")))
                       })
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first of a body and its timer to finish resumes the continuation; the other is cancelled.
private final class Race<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var pending: Result<T, Error>?
    private var tasks: [Task<Void, Never>] = []

    func start(_ continuation: CheckedContinuation<T, Error>, work: Task<Void, Never>, timer: Task<Void, Never>) {
        let early: Result<T, Error>? = lock.withLock {
            tasks = [work, timer]
            if let pending { return pending }
            self.continuation = continuation
            return nil
        }
        if let early {
            work.cancel()
            timer.cancel()
            continuation.resume(with: early)
        }
    }

    func finish(_ result: Result<T, Error>) {
        let (continuation, tasks): (CheckedContinuation<T, Error>?, [Task<Void, Never>]) = lock.withLock {
            guard pending == nil else { return (nil, []) }
            pending = result
            defer { self.continuation = nil }
            return (self.continuation, self.tasks)
        }
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: result)
    }
}

extension Result where Failure == Error {
    public init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Polls `condition` every few milliseconds until it holds; throws naming `what` after `timeout`.
public func waitUntil(_ what: String, timeout: Duration = .seconds(5),
               _ condition: @Sendable () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw TestSupportError("\(what): not within \(timeout)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Lets the node deliver anything still under way, before a test checks that nothing more arrived.
public func settle(_ duration: Duration = .milliseconds(300)) async throws {
    try await Task.sleep(for: duration)
}

/// Collects everything an `AsyncStream` yields, so tests can wait for counts, look for packets and check
/// that nothing more came, without consuming (and so ending) the stream from a cancelled task.
public final class Recorder<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    private var isFinished = false

    public init(_ stream: AsyncStream<Element>) {
        Task {
            for await item in stream { self.lock.withLock { self.items.append(item) } }
            self.lock.withLock { self.isFinished = true }
        }
    }

    /// Everything received so far.
    public var all: [Element] { lock.withLock { items } }
    public var count: Int { lock.withLock { items.count } }
    /// Whether the stream has ended (the connection closed).
    public var finished: Bool { lock.withLock { isFinished } }

    /// Waits until at least `count` elements have arrived and returns all of them.
    @discardableResult
    public func wait(for count: Int, timeout: Duration = .seconds(5)) async throws -> [Element] {
        try await waitUntil("\(count) \(Element.self) (have \(self.count), stream finished: \(finished))",
                            timeout: timeout) { self.count >= count || self.finished }
        let got = all
        guard got.count >= count else {
            throw TestSupportError("the stream ended after \(got.count) of \(count) \(Element.self): \(got)")
        }
        return got
    }

    /// All elements `extract` picks something out of, in order.
    public func matches<T>(_ extract: (Element) -> T?) -> [T] { all.compactMap(extract) }

    /// Waits until `extract` picks something out of at least `count` elements, and returns all it
    /// picks. (The packet and message recorders fill from separate streams: one may lag the other.)
    public func matches<T>(atLeast count: Int, timeout: Duration = .seconds(5),
                    _ extract: @escaping @Sendable (Element) -> T?) async throws -> [T] {
        try await waitUntil("\(count) matching \(T.self) among \(Element.self)s", timeout: timeout) {
            self.all.compactMap(extract).count >= count || self.finished
        }
        return matches(extract)
    }

    /// Waits for the first element `extract` picks something out of.
    public func first<T>(timeout: Duration = .seconds(5), _ extract: @escaping @Sendable (Element) -> T?) async throws -> T {
        try await waitUntil("a matching \(T.self) among \(Element.self)s", timeout: timeout) {
            self.all.contains { extract($0) != nil } || self.finished
        }
        guard let found = matches(extract).first else {
            throw TestSupportError("the stream ended without a matching \(T.self): \(all)")
        }
        return found
    }
}
