import MQTTCore
import Testing

@Suite("Topic names and filters")
struct TopicTests {
    @Test func validNames() {
        for name in ["a", "a/b", "/", "/a", "a/", "//", "$SYS/broker", "ünïcode", " ", String(repeating: "x", count: 65_535)] {
            #expect(MQTTTopic.isValidName(name), "\(name.prefix(20))")
        }
        for name in ["", "a/+", "+", "#", "a/#", "a+b", "a#", "a\u{0}b", String(repeating: "x", count: 65_536)] {
            #expect(!MQTTTopic.isValidName(name), "\(name.prefix(20))")
        }
    }

    @Test func validFilters() {
        let valid = ["a", "#", "+", "a/#", "a/+", "+/+", "/#", "+/", "/", "a//b", "a/+/b/#", "$SYS/#", "$share",
                     "$share/g/a/#", "$share/g/+", "$share/g//", "$queue/a/+", "$queue/#"]
        for filter in valid { #expect(MQTTTopic.isValidFilter(filter), "\(filter)") }
        let invalid = ["", "a#", "a/#/b", "#/", "a/b#", "a+", "a/+b", "++", "##", "a\u{0}",
                       "$share/", "$share/g", "$share/g/", "$share//a", "$share/g+/a", "$share/g#/a", "$share/g/a#",
                       "$queue/", "$queue/a/#/b"]
        for filter in invalid { #expect(!MQTTTopic.isValidFilter(filter), "\(filter)") }
    }

    @Test(arguments: [
        // filter, topic, matches
        ("a/b", "a/b", true), ("a/b", "a/c", false), ("a/b", "a/b/c", false), ("a/b/c", "a/b", false),
        ("#", "a", true), ("#", "a/b/c", true), ("#", "/", true),
        ("a/#", "a", true),        // `#` includes the parent level
        ("a/#", "a/", true), ("a/#", "a/b/c", true), ("a/#", "ab", false), ("a/#", "b/a", false),
        ("a/+/#", "a", false), ("a/+/#", "a/b", true),
        ("+", "a", true), ("+", "a/b", false), ("+", "", true), ("+", "/", false),
        ("+/+", "/", true),        // `+` matches empty levels
        ("a/+", "a/", true), ("+/a", "/a", true), ("a/+/b", "a//b", true),
        ("/+", "/a", true), ("/+", "a", false), ("a/", "a", false), ("a", "a/", false), ("/", "/", true),
        ("+/+/+", "a/b/c", true), ("+/+/+", "a/b", false),
        ("#", "$SYS/broker", false), ("+/broker", "$SYS/broker", false), ("+", "$SYS", false),
        ("$SYS/#", "$SYS/broker", true), ("$SYS/+", "$SYS/broker", true), ("$SYS/#", "$SYS", true),
        ("a/#", "a/$b", true), ("a/+", "a/$b", true),
        ("ü/+", "ü/x", true), ("a/b", "A/b", false),
    ])
    func matching(filter: String, topic: String, expected: Bool) {
        #expect(MQTTTopic.matches(filter: filter, topic: topic) == expected)
    }

    @Test func sharedParsing() {
        #expect(MQTTTopic.parseShared("$share/g/a/b")! == ("g", "a/b"))
        #expect(MQTTTopic.parseShared("$share/group/#")! == ("group", "#"))
        #expect(MQTTTopic.parseShared("$share/g//")! == ("g", "/"))
        #expect(MQTTTopic.parseShared("$queue/a/+")! == ("$queue", "a/+"))
        for filter in ["a/b", "$share", "$share/", "$share/g", "$share/g/", "$share//a", "$queue/", "$SYS/x",
                       "share/g/a"] {
            #expect(MQTTTopic.parseShared(filter) == nil, "\(filter)")
        }
    }

    @Test func levels() {
        #expect(MQTTTopic.levelCount("a") == 1)
        #expect(MQTTTopic.levelCount("a/b/c") == 3)
        #expect(MQTTTopic.levelCount("/") == 2)
        #expect(MQTTTopic.levelCount("") == 1)
        #expect(MQTTTopic.levelCount("a//") == 3)
    }
}
