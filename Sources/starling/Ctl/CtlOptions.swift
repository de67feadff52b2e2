import ArgumentParser
import Foundation
import StarlingAdmin
import StarlingServer

/// The options every `starling ctl` command takes, before or after its subcommand:
/// `starling ctl --api H:P clients list` and `starling ctl clients list --api H:P` are the same.
struct CtlOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The node's API address, https://HOST:PORT for an API over TLS (or STARLING_CTL_API; else api.bind, api.port and api.ssl_options of the config; else 127.0.0.1:18083).",
                               valueName: "host:port"))
    var api: String?

    @Option(help: ArgumentHelp("With https: the CA (PEM) the API's certificate must chain to (or STARLING_CTL_CACERT; else the system's trust store).",
                               valueName: "file"))
    var cacert: String?

    @Option(help: ArgumentHelp("With https: a client certificate (PEM) for an API that asks for one; with --keyfile.", valueName: "file"))
    var certfile: String?

    @Option(help: ArgumentHelp("With https: the client certificate's private key (PEM, unencrypted).", valueName: "file"))
    var keyfile: String?

    @Option(help: ArgumentHelp("An API key and its secret (or STARLING_CTL_KEY).", valueName: "key:secret"))
    var key: String?

    @Option(help: ArgumentHelp("The node's config file, to find the API address.", valueName: "file"))
    var config: String?

    @Flag(help: "Print the API's JSON instead of a table.")
    var json = false

    /// These options, each unset one taken from the first of `outer` that sets it.
    func merged(with outer: [CtlOptions]) -> CtlOptions {
        var result = self
        for options in outer {
            result.api = result.api ?? options.api
            result.key = result.key ?? options.key
            result.config = result.config ?? options.config
            result.cacert = result.cacert ?? options.cacert
            result.certfile = result.certfile ?? options.certfile
            result.keyfile = result.keyfile ?? options.keyfile
            result.json = result.json || options.json
        }
        return result
    }

    /// The API client these options describe, with the environment and the config file filling
    /// what the flags leave out.
    func client(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AdminClient {
        let (host, port, secure) = try address(environment: environment)
        var client = AdminClient(host: host, port: port)
        if secure {
            do {
                client.tls = try AdminClientTLS.make(cacert: cacert ?? environment["STARLING_CTL_CACERT"],
                                                     certificate: certfile, key: keyfile)
            } catch {
                throw CtlFailure(error.message)
            }
        } else if cacert != nil || certfile != nil || keyfile != nil {
            throw CtlFailure("--cacert, --certfile and --keyfile are for an API over TLS: give --api https://HOST:PORT")
        }
        if let pair = key ?? environment["STARLING_CTL_KEY"] {
            guard let colon = pair.firstIndex(of: ":"), colon != pair.startIndex else {
                throw CtlFailure("--key (or STARLING_CTL_KEY) must be KEY:SECRET")
            }
            client.credentials = (String(pair[..<colon]), String(pair[pair.index(after: colon)...]))
        }
        return client
    }

    /// The API's host, port, and whether it speaks TLS.
    private func address(environment: [String: String]) throws -> (String, Int, Bool) {
        if let text = api ?? environment["STARLING_CTL_API"] {
            let secure = text.hasPrefix("https://")
            let hostPort = secure ? String(text.dropFirst(8)) : text.hasPrefix("http://") ? String(text.dropFirst(7)) : text
            guard let (host, port) = Self.parse(address: hostPort) else {
                throw CtlFailure("--api (or STARLING_CTL_API) must be HOST:PORT or https://HOST:PORT, not '\(text)'")
            }
            return (host, port, secure)
        }
        let loaded: ServerConfig
        do {
            loaded = try ServerConfig.load(file: config, environment: environment, overrides: CommandLineOverrides())
        } catch {
            throw CtlFailure("\(error)")
        }
        // A node bound to every address is reached on loopback.
        let host = switch loaded.api.bind {
        case "0.0.0.0": "127.0.0.1"
        case "::": "::1"
        case let bind: bind
        }
        return (host, loaded.api.port, loaded.api.ssl.isConfigured)
    }

    /// `HOST:PORT`, `[IPv6]:PORT`.
    static func parse(address text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty ? nil : (String(host), port)
    }
}

/// A failure `starling ctl` reports in one line (`starling ctl: MESSAGE`) with exit status 1.
struct CtlFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
