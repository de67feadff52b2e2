import StarlingAdmin
import StarlingKernel
import StarlingPlugins
import StarlingServer
import XCTest

/// `[[plugins]]`, `[plugin_loader]`, `[authentication]`, `[authorization]` and `--plugin`.
final class PluginConfigTests: ConfigTestCase {
    func testPluginEntriesWithOptionsInOrder() throws {
        let config = try load("""
            [[plugins]]
            path = "plugins/hello-c/hello-c.so"
            options = { greeting = "bonjour", count = 3, loud = true }

            [[plugins]]
            path = "/opt/acl.so"
            name = "acl"
            enabled = false
            """)
        XCTAssertEqual(config.plugins, [
            PluginConfig(path: "plugins/hello-c/hello-c.so",
                         options: [PluginOption(key: "count", value: "3"), PluginOption(key: "greeting", value: "bonjour"),
                                   PluginOption(key: "loud", value: "true")]),
            PluginConfig(path: "/opt/acl.so", name: "acl", enabled: false),
        ])
        XCTAssertEqual(try load(config.renderTOML()), config)
    }

    func testPluginFlagsComeAfterTheFileAndRenderBack() throws {
        let config = try load("[[plugins]]\npath = \"first.so\"\n",
                              flags: CommandLineOverrides(plugins: ["second.so", "third.so"]))
        XCTAssertEqual(config.plugins.map(\.path), ["first.so", "second.so", "third.so"])
        XCTAssertEqual(config.plugins[1].options, [])
        XCTAssertEqual(try load(config.renderTOML()), config)
    }

    func testBadPluginEntriesNameTheirFault() throws {
        try assertError("[[plugins]]\nname = \"x\"\n", mentions: ["plugins[1]", "no path"])
        try assertError("[[plugins]]\npath = \"a.so\"\ncolour = \"red\"\n",
                        mentions: ["unknown key 'plugins[1].colour'", "path, name, enabled, options"])
        try assertError("[[plugins]]\npath = \"a.so\"\n[[plugins]]\npath = \"b.so\"\nname = \"bad name\"\n",
                        mentions: ["plugins[2].name = \"bad name\"", "letters, digits"])
        try assertError("[[plugins]]\npath = \"a.so\"\noptions = { nested = { deep = 1 } }\n",
                        mentions: ["plugins[1].options.nested", "a string, a number or a boolean"])
        try assertError("[plugins]\npath = \"a.so\"\n", mentions: ["plugins", "array of tables"])
        try assertError(nil, env: ["STARLING_PLUGINS__PATH": "a.so"], mentions: ["[[plugins]]", "--plugin PATH"])
    }

    func testNoMatchAndLoaderKeys() throws {
        let defaults = try load(nil)
        XCTAssertEqual(defaults.settings.authentication.noMatch, .deny)
        XCTAssertEqual(defaults.settings.authorization.noMatch, .allow)
        XCTAssertEqual(defaults.pluginLoader.onError, .stop)
        let config = try load("[authentication]\nno_match = \"allow\"\n[authorization]\nno_match = \"deny\"\n",
                              env: ["STARLING_PLUGIN_LOADER__ON_ERROR": "skip"])
        XCTAssertEqual(config.settings.authentication.noMatch, .allow)
        XCTAssertEqual(config.settings.authorization.noMatch, .deny)
        XCTAssertEqual(config.pluginLoader.onError, .skip)
        try assertError("[authorization]\nno_match = \"maybe\"\n", mentions: ["authorization.no_match", "allow, deny"])
        try assertError("[plugin_loader]\non_error = \"ignore\"\n", mentions: ["plugin_loader.on_error", "stop, skip"])
    }

    /// A reload applies the no_match keys at once; the plugin list and the loader need a restart.
    func testReloadAppliesNoMatchAndReportsPluginsAsRestartOnly() throws {
        let old = try load("[[plugins]]\npath = \"a.so\"\n")
        let new = try load("""
            [authorization]
            no_match = "deny"
            [plugin_loader]
            on_error = "skip"
            [[plugins]]
            path = "a.so"
            [[plugins]]
            path = "b.so"
            """)
        let changes = old.changes(to: new)
        XCTAssertEqual(changes.map(\.key), ["authorization.no_match", "plugin_loader.on_error", "plugins"])
        XCTAssertEqual(changes.last, SettingChange(key: "plugins", old: #"["a.so"]"#, new: #"["a.so", "b.so"]"#))
        let applied = old.applyingLiveSettings(of: new)
        XCTAssertEqual(applied.settings.authorization.noMatch, .deny)
        XCTAssertEqual(applied.changes(to: new).map(\.key), ["plugin_loader.on_error", "plugins"])
    }
}
