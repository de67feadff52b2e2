import ArgumentParser
import Foundation
import NIOHTTP1
import StarlingAdmin
import StarlingServer

/// One `starling ctl` command's exchange with the node: sends requests, turns failures into a
/// one-line message and exit status 1, prints the API's JSON under `--json`.
struct CtlSession {
    let client: AdminClient
    let json: Bool

    init(options: CtlOptions) throws {
        client = try options.client()
        json = options.json
    }

    /// Sends a request; a failure or an error status ends the command with its message.
    /// Under `--json` the answer's body is printed as it came.
    @discardableResult
    func call(_ method: HTTPMethod, _ target: String, body: JSONValue? = nil) async throws -> JSONValue {
        let bytes = try body.map { Array(try JSONEncoder().encode($0)) }
        let response: AdminClientResponse
        do {
            response = try await client.send(method, target, body: bytes)
        } catch {
            throw CtlFailure(error.description)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            throw CtlFailure("\(response.errorMessage) (HTTP \(response.status.code))")
        }
        if json && !response.body.isEmpty { print(response.text) }
        return response.json ?? .null
    }

    /// Prints `text` unless `--json` is on (the JSON was printed instead).
    func say(_ text: String) {
        if !json { print(text) }
    }
}

/// A command of `starling ctl` that holds subcommands; it takes the ctl options too, so that
/// they may stand before a subcommand's name.
protocol CtlGroup: AsyncParsableCommand {
    var options: CtlOptions { get }
}

extension Ctl: CtlGroup {}

/// A leaf's ctl options merged with those given to `starling ctl` and to its group (the
/// innermost wins).
struct CtlLeafOptions<Group: CtlGroup>: ParsableArguments {
    @OptionGroup var own: CtlOptions
    @ParentCommand var ctl: Ctl
    @ParentCommand var group: Group

    var merged: CtlOptions { own.merged(with: [group.options, ctl.options]) }
}

/// A leaf command of `starling ctl`: it runs with a session to the node; failures end it with
/// one line on standard error and exit status 1.
protocol CtlCommand: AsyncParsableCommand {
    associatedtype Group: CtlGroup
    var options: CtlLeafOptions<Group> { get }
    func run(_ session: CtlSession) async throws
}

extension CtlCommand {
    func run() async throws {
        do {
            try await run(CtlSession(options: options.merged))
        } catch let failure as CtlFailure {
            StderrLogHandler.writeToStandardError("starling ctl: \(failure)\n")
            throw ExitCode.failure
        }
    }
}

/// Percent-encodes `text` as one path segment or query value (only unreserved characters stay).
func percentEncoded(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}

/// `?a=1&b=x` from the pairs whose value is set; "" when none is.
func queryString(_ pairs: [(String, String?)]) -> String {
    let set = pairs.compactMap { name, value in value.map { "\(name)=\(percentEncoded($0))" } }
    return set.isEmpty ? "" : "?" + set.joined(separator: "&")
}
