import LMDB

extension Environment.Options {
    /// How every onerec process opens a store (the daemon, `onerec store`, `onerec codebook`, benchmarks),
    /// so no two processes open one store with different flags (LMDB's rule for `MDB_WRITEMAP`).
    ///
    /// LMDB writes pages through the map (`MDB_WRITEMAP`) instead of copying each dirty page into a buffer of
    /// its own and writing the copies at commit. Ingest's transactions dirty most pages of the randomly keyed
    /// event-id and history indexes: with 50,000 events per transaction, a throwaway instrumented build
    /// summed the commits of a million events to 1.4 s the old way and 0.2 s through the map. With 200,000
    /// events per transaction an ad hoc build without the map ingested the million events as fast (4.09 s
    /// against 4.06 s, one `onerec bench ingest --users 120000` run each), so the map is no longer shown to
    /// pay for itself; it costs disk space. The map is reserved on disk when it is opened and whenever it
    /// grows (`Environment.reserveMap`), so a full disk fails a write with ENOSPC instead of killing the
    /// process with SIGBUS; the store takes its whole map (`mapSizeMiB` to start, doubled when full).
    public static func store(mapSizeMiB: Int) -> Environment.Options {
        var options = Environment.Options()
        options.mapSize = mapSizeMiB << 20
        options.flags = [.writeMap]
        return options
    }
}
