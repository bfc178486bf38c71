import Foundation

/// C-locale `strftime` for `strftime_now`, which templates use to print today's date.
enum Strftime {
    static func format(_ fmt: String, _ date: Date, timeZone: TimeZone = .current) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
        let dayOfYear = cal.ordinality(of: .day, in: .year, for: date) ?? 1
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
        let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0
        let weekday = (c.weekday ?? 1) - 1
        func pad(_ v: Int, _ w: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        var out = ""
        var it = fmt.makeIterator()
        while let ch = it.next() {
            guard ch == "%" else {
                out.append(ch)
                continue
            }
            guard let d = it.next() else {
                out.append("%")
                break
            }
            switch d {
            case "Y": out += String(year)
            case "y": out += pad(year % 100)
            case "m": out += pad(month)
            case "d": out += pad(day)
            case "e": out += (day < 10 ? " " : "") + String(day)
            case "B": out += months[month - 1]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "A": out += days[weekday]
            case "a": out += String(days[weekday].prefix(3))
            case "H": out += pad(hour)
            case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
            case "M": out += pad(minute)
            case "S": out += pad(second)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "j": out += pad(dayOfYear, 3)
            case "w": out += String(weekday)
            case "f": out += pad((c.nanosecond ?? 0) / 1000, 6)
            case "F": out += "\(year)-\(pad(month))-\(pad(day))"
            case "T": out += "\(pad(hour)):\(pad(minute)):\(pad(second))"
            case "Z": out += timeZone.abbreviation(for: date) ?? ""
            case "z":
                let off = timeZone.secondsFromGMT(for: date) / 60
                out += (off < 0 ? "-" : "+") + pad(abs(off) / 60) + pad(abs(off) % 60)
            case "%": out += "%"
            default:
                out.append("%")
                out.append(d)
            }
        }
        return out
    }
}
