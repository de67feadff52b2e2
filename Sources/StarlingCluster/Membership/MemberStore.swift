import Foundation

/// The members this node knows, kept in `<data_dir>/cluster/members.json` so that a restarted node
/// rejoins its cluster by itself. Written whole on every change (a few lines).
struct MemberStore {
    let path: String

    init(dataDir: String) {
        path = URL(fileURLWithPath: dataDir).appendingPathComponent("cluster").appendingPathComponent("members.json").path
    }

    /// The remembered members; none when the file is missing or unreadable.
    func load() -> [PeerAddress] {
        guard let data = FileManager.default.contents(atPath: path),
              let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.members
    }

    /// Replaces the remembered members. Throws when the directory or file cannot be written.
    func save(_ members: [PeerAddress]) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(File(members: members.sorted { $0.name < $1.name })).write(to: url, options: .atomic)
    }

    private struct File: Codable {
        var members: [PeerAddress]
    }
}
