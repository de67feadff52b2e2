import NIOCore

extension Broker {
    /// Puts back the retained messages `records` hold (start-up, before any listener opens) and
    /// from then on writes every retained change to `store`. Messages that expired while the
    /// broker was down are left out; a record whose bytes cannot be read is reported to
    /// `unreadable` with the reason and skipped. Returns how many messages are back.
    public func restoreRetained(_ records: [RetainedRecord], thenPersistTo store: any PersistentStore,
                                unreadable: (RetainedRecord, String) -> Void) -> Int {
        retained.persist(to: store)
        return retained.restore(records, now: .now(), wallNowMilliseconds: NIODeadline.wallClockMillisecondsNow,
                                unreadable: unreadable)
    }
}
