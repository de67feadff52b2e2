// The HTTP side: one URLSession per loaded copy of the plugin, answers read by EMQX's convention.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sends requests without blocking the caller and reports each verdict from URLSession's queue.
/// `close` cancels what is still running and waits for every completion handler to return, so
/// nothing of this copy of the plugin runs after cleanup.
final class HTTPAsker: @unchecked Sendable {  // URLSession is thread-safe; the group counts handlers
    private let session: URLSession
    private let inFlight = DispatchGroup()
    private let timeoutMilliseconds: Int
    /// Runs the per-request timers: swift-corelibs-foundation truncates URLSession's timeouts to
    /// whole seconds (1500 ms would be 1 s, 500 ms none at all), so the plugin keeps its own.
    private let timers = DispatchQueue(label: "auth-http.timeouts")
    /// URLSession's own timeout, in whole seconds, after the plugin's timer.
    private let backstop: TimeInterval

    init(timeoutMilliseconds: Int) {
        self.timeoutMilliseconds = timeoutMilliseconds
        let configuration = URLSessionConfiguration.ephemeral
        backstop = TimeInterval(timeoutMilliseconds / 1000 + 2)
        configuration.timeoutIntervalForRequest = backstop
        configuration.timeoutIntervalForResource = backstop
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    /// Starts `request`; `then` runs once, on URLSession's queue, with the server's verdict.
    func ask(_ request: URLRequest, then: @escaping @Sendable (Verdict) -> Void) {
        var request = request
        request.timeoutInterval = backstop
        inFlight.enter()
        let timeout = timeoutMilliseconds
        let exchange = Exchange()
        let task = session.dataTask(with: request) { [inFlight] data, response, error in
            defer { inFlight.leave() }
            if exchange.finish() {
                then(.failure("no answer within \(timeout) ms"))
            } else {
                then(Self.verdict(data: data, response: response, error: error))
            }
        }
        let timer = DispatchWorkItem { exchange.expire() }
        exchange.start(task, timer: timer)
        timers.asyncAfter(deadline: .now() + .milliseconds(timeout), execute: timer)
        task.resume()
    }

    /// One request's race between its answer and its timer.
    private final class Exchange: @unchecked Sendable {  // state behind `lock`
        private let lock = NSLock()
        private var finished = false
        private var timedOut = false
        private var task: URLSessionDataTask?
        private var timer: DispatchWorkItem?

        func start(_ task: URLSessionDataTask, timer: DispatchWorkItem) {
            lock.withLock {
                self.task = task
                self.timer = timer
            }
        }

        /// The timer fired: cancel the request unless it has finished (its handler then reports
        /// the timeout rather than the cancellation).
        func expire() {
            let task = lock.withLock { () -> URLSessionDataTask? in
                guard !finished else { return nil }
                timedOut = true
                return self.task
            }
            task?.cancel()
        }

        /// The handler runs: true when the timer cancelled the request. Cancels the timer, so
        /// nothing of this request runs after its handler.
        func finish() -> Bool {
            let (pending, timedOut) = lock.withLock { () -> (DispatchWorkItem?, Bool) in
                finished = true
                task = nil
                defer { timer = nil }  // the work item holds this exchange: break the cycle
                return (timer, self.timedOut)
            }
            pending?.cancel()
            return timedOut
        }
    }

    /// Cancels running requests (their handlers still run, with a cancellation error) and waits up
    /// to `timeout` for every handler to return. False when some did not.
    func close(waitingUpTo timeout: Duration) -> Bool {
        session.invalidateAndCancel()
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        return inFlight.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success
    }

    /// EMQX's convention (HTTP authentication and authorization): 200 with a JSON object whose
    /// "result" is "allow", "deny" or "ignore"; 204 allows. Anything else is a failure, which
    /// `on_error` answers.
    static func verdict(data: Data?, response: URLResponse?, error: Error?) -> Verdict {
        if let error {
            let code = (error as NSError).code
            if code == NSURLErrorTimedOut { return .failure("URLSession timed out") }
            if code == NSURLErrorCancelled { return .failure("cancelled: the plugin is stopping") }
            return .failure(error.localizedDescription)
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode else { return .failure("not an HTTP response") }
        switch status {
        case 204: return .server(.allow)
        case 200:
            guard let data, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let result = object["result"] as? String else {
                return .failure("HTTP 200 without a JSON object with a \"result\"")
            }
            switch result.lowercased() {
            case "allow": return .server(.allow)
            case "deny": return .server(.deny)
            case "ignore": return .server(.ignore)
            default: return .failure("HTTP 200 with an unknown result '\(result)'")
            }
        default: return .failure("HTTP status \(status)")
        }
    }
}
