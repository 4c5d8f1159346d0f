import LMDB

extension Environment.Options {
    /// How every onerec process opens a store (the daemon, `onerec store`, `onerec codebook`, benchmarks),
    /// so no two processes open one store with different flags (LMDB's rule for `MDB_WRITEMAP`).
    ///
    /// LMDB writes pages through the map (`MDB_WRITEMAP`) instead of copying each dirty page into a buffer of
    /// its own and writing the copies at commit. Ingest's transactions dirty most pages of the randomly keyed
    /// event-id and history indexes: for a million events the commits took 1.4 s in all the old way and
    /// 0.2 s through the map (`onerec bench ingest --users 120000`: 5.16 s -> 3.64 s with 200,000 events
    /// per transaction). The map is reserved on disk when it is opened and whenever it grows
    /// (`Environment.reserveMap`), so a full disk fails a write with ENOSPC instead of killing the process
    /// with SIGBUS; the price is disk space: the store takes its whole map (`mapSizeMiB` to start, doubled
    /// when full).
    public static func store(mapSizeMiB: Int) -> Environment.Options {
        var options = Environment.Options()
        options.mapSize = mapSizeMiB << 20
        options.flags = [.writeMap]
        return options
    }
}
