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

    init(timeoutMilliseconds: Int) {
        self.timeoutMilliseconds = timeoutMilliseconds
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = TimeInterval(timeoutMilliseconds) / 1000
        configuration.timeoutIntervalForResource = TimeInterval(timeoutMilliseconds) / 1000
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    /// Starts `request`; `then` runs once, on URLSession's queue, with the server's verdict.
    func ask(_ request: URLRequest, then: @escaping @Sendable (Verdict) -> Void) {
        inFlight.enter()
        let timeout = timeoutMilliseconds
        session.dataTask(with: request) { [inFlight] data, response, error in
            defer { inFlight.leave() }
            then(Self.verdict(data: data, response: response, error: error, timeoutMilliseconds: timeout))
        }.resume()
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
    static func verdict(data: Data?, response: URLResponse?, error: Error?, timeoutMilliseconds: Int) -> Verdict {
        if let error {
            let code = (error as NSError).code
            if code == NSURLErrorTimedOut { return .failure("no answer within \(timeoutMilliseconds) ms") }
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
