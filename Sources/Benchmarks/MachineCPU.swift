import Client
import Foundation

/// Waits until the machine's cores are mostly idle (from /proc/stat), so a timed run does not share them
/// with leftover work of another process; the test broker, for one, rewrites its whole data file after
/// writes and offset commits, which takes most of a core for seconds. Returns the seconds waited;
/// gives up (and says so) after `limit`.
func waitForQuietMachine(idleFraction: Double = 0.9, window: Duration = .seconds(2), limit: Duration = .seconds(300)) async throws -> Double {
    let start = ContinuousClock.now
    var before = try cpuTimes()
    while true {
        try await Task.sleep(for: window)
        let after = try cpuTimes()
        let (busy, total) = (after.busy - before.busy, after.total - before.total)
        if total > 0 && Double(total - busy) / Double(total) >= idleFraction { break }
        if ContinuousClock.now - start > limit {
            print("warning: the machine stayed busy for \(limit); measuring anyway")
            break
        }
        before = after
    }
    return start.duration(to: .now).seconds
}

/// Busy and total jiffies of all cores since boot (the "cpu" line of /proc/stat; idle and iowait count
/// as idle).
private func cpuTimes() throws -> (busy: UInt64, total: UInt64) {
    let text = try String(contentsOfFile: "/proc/stat", encoding: .utf8)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else {
        throw BenchmarkError("/proc/stat has no cpu line")
    }
    let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
    guard fields.count >= 5 else { throw BenchmarkError("/proc/stat's cpu line is not what Linux writes: \(line)") }
    let total = fields.prefix(8).reduce(0, +)
    return (total - fields[3] - fields[4], total)
}

/// Seconds of CPU the machine's cores spent busy during `body` (all processes, from /proc/stat).
func machineBusySeconds<T>(_ body: () async throws -> T) async throws -> (result: T, busy: Double) {
    let before = try cpuTimes()
    let result = try await body()
    let after = try cpuTimes()
    return (result, Double(after.busy - before.busy) / Double(sysconf(Int32(_SC_CLK_TCK))))
}

/// Whose CPU time `cpuSeconds` reads.
enum CPUUser { case thisProcess, waitedChildren }

/// User + system CPU seconds of this process or of its children that were waited for, so far.
func cpuSeconds(of who: CPUUser) -> Double {
    var usage = rusage()
    precondition(getrusage(Int32((who == .thisProcess ? RUSAGE_SELF : RUSAGE_CHILDREN).rawValue), &usage) == 0, "getrusage cannot fail for SELF or CHILDREN")
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The CPU's model name (/proc/cpuinfo), to print beside every figure: results move between machines.
func cpuModelName() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    return info.split(separator: "\n").first { $0.hasPrefix("model name") }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
        .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
}
