import Metrics
import Store

extension ServedRequests.Joined {
    /// Counts a batch's joins as `onerec_answer_events_total{result="matched|unmatched|foreign"}`: stored
    /// interactions joined to the answer they came from, naming no answer kept here, or naming another
    /// user's answer.
    public func count() {
        for (result, n) in [("matched", matched), ("unmatched", unmatched), ("foreign", foreign)] where n > 0 {
            Counter(label: "onerec_answer_events_total", dimensions: [("result", result)]).increment(by: n)
        }
    }
}
