//! RFC 3339 timestamps: `created` is whole milliseconds since the Unix epoch, UTC;
//! `before`/`after` bounds may carry any precision and offset, so they are kept in nanoseconds.

/// Milliseconds since the Unix epoch: the unit of `created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

/// An instant parsed from a query bound, in nanoseconds since the epoch (may be negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(i128);

impl Millis {
    fn as_instant(self) -> Instant {
        Instant(self.0 as i128 * 1_000_000)
    }

    pub fn is_before(self, bound: Instant) -> bool {
        self.as_instant() < bound
    }

    pub fn is_after(self, bound: Instant) -> bool {
        self.as_instant() > bound
    }

    /// `2020-07-27T17:32:28.276Z`.
    pub fn to_rfc3339(self) -> String {
        let mut out = Vec::with_capacity(24);
        self.write_rfc3339(&mut out);
        String::from_utf8(out).expect("digits and separators are ASCII")
    }

    /// Appends `to_rfc3339` to `out` (a listing writes 1000 of these into one reply).
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        let secs = (self.0 / 1000) as i64;
        let ms = self.0 % 1000;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let (h, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
        if !(0..=9999).contains(&y) {
            let text = format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{ms:03}Z");
            out.extend_from_slice(text.as_bytes());
            return;
        }
        // Digit by digit, not `format!`.
        let fields = [
            (y, 1000, b'-'),
            (m, 10, b'-'),
            (d, 10, b'T'),
            (h, 10, b':'),
            (min, 10, b':'),
            (sec, 10, b'.'),
            (ms as i64, 100, b'Z'),
        ];
        for (n, mut place, after) in fields {
            while place > 0 {
                out.push(b'0' + (n / place % 10) as u8);
                place /= 10;
            }
            out.push(after);
        }
    }
}

impl Instant {
    /// Parses an RFC 3339 `date-time` (section 5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    /// `t`/`z` and a space separator are accepted as RFC 3339 allows.
    pub fn parse(s: &str) -> Result<Instant, String> {
        let b = s.as_bytes();
        let bad = || format!("'{s}' is not an RFC 3339 date-time (e.g. 2020-07-27T17:32:28.276Z)");
        if b.len() < 20 || !s.is_ascii() {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let sep_ok = b[4] == b'-'
            && b[7] == b'-'
            && matches!(b[10], b'T' | b't' | b' ')
            && b[13] == b':'
            && b[16] == b':';
        if !sep_ok {
            return Err(bad());
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(bad());
        }
        let mut i = 19;
        let mut nanos: i128 = 0;
        if b[i] == b'.' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[start..i];
            if digits.is_empty() {
                return Err(bad());
            }
            // Precision beyond nanoseconds cannot change a comparison with whole milliseconds.
            let kept = &digits[..digits.len().min(9)];
            nanos = kept.parse::<i128>().map_err(|_| bad())? * 10i128.pow(9 - kept.len() as u32);
        }
        let offset_secs: i64 = match &s[i..] {
            "Z" | "z" => 0,
            rest if rest.len() == 6
                && matches!(rest.as_bytes()[0], b'+' | b'-')
                && rest.as_bytes()[3] == b':' =>
            {
                let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                sign * (oh * 3600 + om * 60)
            }
            _ => return Err(bad()),
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
        Ok(Instant(secs as i128 * 1_000_000_000 + nanos))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds() {
        assert_eq!(Millis(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Millis(1_595_871_148_276).to_rfc3339(),
            "2020-07-27T17:32:28.276Z"
        );
        assert_eq!(
            Millis(951_782_400_001).to_rfc3339(),
            "2000-02-29T00:00:00.001Z"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0u64, 1, 999, 1_595_871_148_276, 4_102_444_799_999] {
            let s = Millis(ms).to_rfc3339();
            assert_eq!(Instant::parse(&s).unwrap(), Millis(ms).as_instant(), "{s}");
        }
    }

    #[test]
    fn parses_offsets_and_precision() {
        let z = Instant::parse("2020-07-27T17:32:28.276Z").unwrap();
        assert_eq!(Instant::parse("2020-07-27T19:32:28.276+02:00").unwrap(), z);
        assert_eq!(Instant::parse("2020-07-27t17:32:28.276z").unwrap(), z);
        assert_eq!(
            Instant::parse("2020-07-27T17:32:28.2760000001Z").unwrap(),
            z
        );
        let sub = Instant::parse("2020-07-27T17:32:28.2765Z").unwrap();
        assert!(Millis(1_595_871_148_276).is_before(sub));
        assert!(!Millis(1_595_871_148_277).is_before(sub));
        assert!(Instant::parse("2020-07-27T17:32:28Z").unwrap() < z);
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2020-07-27",
            "2020-07-27T17:32:28",
            "2020-13-01T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-07-27T24:00:00Z",
            "2020-07-27T17:32:28.Z",
            "2020-07-27T17:32:28.276+0200",
            "2020-07-27T17:32:28.276Zjunk",
            "yesterday at noon, roughly",
            "2020-07-27T17:32:28.276×",
        ] {
            assert!(Instant::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn exclusive_bounds() {
        let t = Instant::parse("2020-07-27T17:32:28.276Z").unwrap();
        let at = Millis(1_595_871_148_276);
        assert!(!at.is_before(t) && !at.is_after(t));
        assert!(Millis(at.0 - 1).is_before(t));
        assert!(Millis(at.0 + 1).is_after(t));
    }
}
