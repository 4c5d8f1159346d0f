import ArgumentParser
import Foundation
import Store

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Inspect the daemon's LMDB store.", subcommands: [StoreStats.self])
}

/// `onerec store stats`: what the store holds.
struct StoreStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Counts of stored interactions and items, map size, offsets.",
        discussion: "Opens the store read-only, so it shows the live figures of a running daemon's store.")
    @Option(help: "The store directory.") var path: String
    @Option(help: "Topic whose stored offsets to show.") var topic = "onerec.interactions"

    func run() throws {
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else { throw CommandError("no store at \(path)") }
        let opened = try OpenStore.readOnly(path: path)  // safe beside a running daemon: never changes the files
        let store = try opened.history()
        let (interactions, items) = try store.counts()
        print("interactions \(interactions)")
        print("items \(items)")
        print("map size \(opened.mapSize) bytes")
        let offsets = try store.offsets(topic: topic, partitions: Array(0..<64))
        print("offsets \(topic): " + offsets.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}
