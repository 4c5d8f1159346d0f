import Foundation

/// A server-rendered line chart: one or more series of (x, y) points scaled into a fixed box, with the
/// axis ranges printed at the corners. Enough for a status page; no script, no external assets.
public struct SVGPlot {
    public struct Series {
        let name: String
        let color: String
        let points: [(x: Double, y: Double)]
        public init(name: String, color: String, points: [(x: Double, y: Double)]) { (self.name, self.color, self.points) = (name, color, points) }
    }

    var title: String
    var xLabel: String
    var series: [Series]
    var width = 520.0, height = 200.0
    /// Start the y axis at 0 (rates, counts) instead of at the smallest value.
    var fromZero = false

    public init(title: String, xLabel: String, series: [Series], width: Double = 520, height: Double = 200, fromZero: Bool = false) {
        (self.title, self.xLabel, self.series, self.width, self.height, self.fromZero) = (title, xLabel, series, width, height, fromZero)
    }

    public var svg: String {
        let (left, right, top, bottom) = (56.0, 12.0, 24.0, 28.0)
        let all = series.flatMap(\.points)
        var out = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" role="img" aria-label="\#(escape(title))">"#
        out += #"<rect width="100%" height="100%" fill="white" stroke="silver"/>"#
        out += #"<text x="\#(left)" y="16" font-size="13" font-family="sans-serif">\#(escape(title))</text>"#
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max(), let lowestY = all.map(\.y).min(), let maxY = all.map(\.y).max() else {
            return out + #"<text x="\#(left)" y="\#(height / 2)" font-size="12" font-family="sans-serif" fill="gray">no data yet</text></svg>"#
        }
        let minY = fromZero ? min(0, lowestY) : lowestY
        let spanX = maxX > minX ? maxX - minX : 1, spanY = maxY > minY ? maxY - minY : 1
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - minX) / spanX * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - minY) / spanY * plotH }
        out += #"<line x1="\#(left)" y1="\#(top + plotH)" x2="\#(left + plotW)" y2="\#(top + plotH)" stroke="gray"/>"#
        out += #"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(top + plotH)" stroke="gray"/>"#
        let label = { (v: Double) in abs(v) >= 1000 || v == v.rounded() ? String(format: "%.0f", v) : String(format: "%.3g", v) }
        out += #"<text x="4" y="\#(top + 10)" font-size="10" font-family="sans-serif">\#(label(maxY))</text>"#
        out += #"<text x="4" y="\#(top + plotH)" font-size="10" font-family="sans-serif">\#(label(minY))</text>"#
        out += #"<text x="\#(left)" y="\#(height - 8)" font-size="10" font-family="sans-serif">\#(label(minX))</text>"#
        out += #"<text x="\#(left + plotW)" y="\#(height - 8)" font-size="10" font-family="sans-serif" text-anchor="end">\#(label(maxX)) \#(escape(xLabel))</text>"#
        for (i, s) in series.enumerated() {
            let path = s.points.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
            out += #"<polyline fill="none" stroke="\#(s.color)" stroke-width="1.5" points="\#(path)"/>"#
            for p in s.points where s.points.count <= 40 {
                out += String(format: #"<circle cx="%.1f" cy="%.1f" r="2.5" fill="%@"/>"#, px(p.x), py(p.y), s.color)
            }
            out += #"<text x="\#(left + plotW - 4)" y="\#(top + 12 + Double(i) * 13)" font-size="11" font-family="sans-serif" text-anchor="end" fill="\#(s.color)">\#(escape(s.name))</text>"#
        }
        return out + "</svg>"
    }
}

/// Text safe inside HTML and SVG.
func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
