// A child process for the LMDB tests: things a test cannot do to itself (be killed mid-write, open a
// store as another user).
//   lmdb-test-helper writer PATH   writes keys 0, 1, 2, ... in transactions of 10 and prints
//                                  "committed N" after each commit, until killed
//   lmdb-test-helper writer-writemap PATH   the same through a reserved write map (MDB_WRITEMAP), from a
//                                  1 MiB map, so the map also grows while it may be killed
//   lmdb-test-helper open PATH     opens the store; prints the error and exits 1 if that fails
import Glibc
import LMDB

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    say("usage: lmdb-test-helper writer|writer-writemap|open PATH")
    exit(2)
}
do {
    var options = Environment.Options()
    if arguments[1] == "writer-writemap" { (options.flags, options.mapSize) = ([.writeMap], 1 << 20) }
    let env = try Environment(path: arguments[2], options: options)
    if arguments[1].hasPrefix("writer") {
        let db = try env.openDatabase("crash")
        var next: UInt64 = 0
        while true {
            try env.write { txn in
                for key in next..<next + 10 {
                    try txn.put(db, KeyBuilder.key(key), Array(repeating: UInt8(truncatingIfNeeded: key), count: 1000))
                }
            }
            next += 10
            say("committed \(next)")
        }
    }
    say("opened")
} catch {
    say("\(error)")
    exit(1)
}

/// One unbuffered line on stdout, so the parent sees it even if this process is killed next.
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}
