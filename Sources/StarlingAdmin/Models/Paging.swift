/// `page` and `limit` of a list request: `limit` 1…10000 (100 by default), `page` from 1.
struct Paging: Sendable {
    static let parameterNames = ["page", "limit"]

    var page: Int
    var limit: Int

    init(_ query: QueryParameters) throws(APIError) {
        page = try query.int("page", in: 1...Int.max, default: 1)
        limit = try query.int("limit", in: 1...10_000, default: 100)
    }

    /// The items of this page, with the total count.
    func apply<Item: Encodable & Sendable>(_ items: [Item]) -> ListPage<Item> {
        let (start, overflow) = (page - 1).multipliedReportingOverflow(by: limit)
        let slice = overflow || start >= items.count ? [] : Array(items[start..<min(items.count, start + limit)])
        return ListPage(data: slice, meta: ListPage.Meta(page: page, limit: limit, count: items.count))
    }
}

/// A list answer: `{"data": [...], "meta": {"page": 1, "limit": 100, "count": TOTAL}}`.
struct ListPage<Item: Encodable & Sendable>: Encodable, Sendable {
    struct Meta: Encodable, Sendable {
        var page: Int
        var limit: Int
        /// Items over all pages.
        var count: Int
    }

    var data: [Item]
    var meta: Meta
}
