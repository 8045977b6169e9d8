//! The CDN's own reading of a `Range` header (RFC 9110 §14.1.2 and §14.2),
//! written separately from igfeed's: the fake is there to check igfeed's
//! range handling, so it must not share that code (a bug would then agree
//! with itself).

/// What the CDN sends for a request's `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// No range, or one the CDN ignores (malformed, several ranges, another
    /// unit): 200 with the whole object.
    Everything,
    /// 206 with the bytes from the first to the last offset, both included.
    Slice { first: u64, last: u64 },
    /// 416: a well-formed range that starts past the end of the object.
    Nothing,
}

/// Reads `value` (the `Range` header) for an object of `len` bytes. Only one
/// `bytes` range is served; the unit is case-insensitive, positions are
/// plain digits.
pub(crate) fn wanted(value: &str, len: u64) -> Wanted {
    let Some((unit, set)) = value.trim().split_once('=') else {
        return Wanted::Everything;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return Wanted::Everything;
    }
    let Some((from, to)) = set.trim().split_once('-') else {
        return Wanted::Everything;
    };
    match (digits(from), digits(to)) {
        // `-N`: the last N bytes.
        (None, Some(suffix)) if from.is_empty() => match suffix {
            Some(0) => Wanted::Nothing,
            _ if len == 0 => Wanted::Nothing,
            // More digits than a u64 holds: more than the whole object.
            None => Wanted::Slice {
                first: 0,
                last: len - 1,
            },
            Some(n) => Wanted::Slice {
                first: len.saturating_sub(n),
                last: len - 1,
            },
        },
        // `N-` and `N-M`.
        (Some(first), last) if last.is_some() || to.is_empty() => {
            // `N-`, or an M too large for a u64: to the end. An N too large
            // for a u64 starts past the end of any object.
            let last = last.flatten().unwrap_or(u64::MAX);
            let first = first.unwrap_or(u64::MAX);
            if first > last {
                Wanted::Everything
            } else if first < len {
                Wanted::Slice {
                    first,
                    last: last.min(len - 1),
                }
            } else {
                Wanted::Nothing
            }
        }
        _ => Wanted::Everything,
    }
}

/// `Some(Some(n))` for a run of ASCII digits, `Some(None)` for one too long
/// for a u64, `None` for anything else (empty, signs, spaces, letters).
fn digits(s: &str) -> Option<Option<u64>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(first: u64, last: u64) -> Wanted {
        Wanted::Slice { first, last }
    }

    #[test]
    fn closed_and_open_ranges() {
        assert_eq!(wanted("bytes=0-0", 10), slice(0, 0));
        assert_eq!(wanted("bytes=2-5", 10), slice(2, 5));
        assert_eq!(wanted("bytes=2-", 10), slice(2, 9));
        assert_eq!(wanted("bytes=9-", 10), slice(9, 9));
        // A last position past the end is cut to the end.
        assert_eq!(wanted("bytes=5-1000", 10), slice(5, 9));
        assert_eq!(wanted("bytes=5-99999999999999999999999", 10), slice(5, 9));
    }

    #[test]
    fn suffix_ranges() {
        assert_eq!(wanted("bytes=-3", 10), slice(7, 9));
        assert_eq!(wanted("bytes=-10", 10), slice(0, 9));
        assert_eq!(wanted("bytes=-500", 10), slice(0, 9));
        assert_eq!(wanted("bytes=-99999999999999999999999", 10), slice(0, 9));
        assert_eq!(wanted("bytes=-0", 10), Wanted::Nothing);
        assert_eq!(wanted("bytes=-5", 0), Wanted::Nothing);
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(wanted("bytes=10-", 10), Wanted::Nothing);
        assert_eq!(wanted("bytes=10-20", 10), Wanted::Nothing);
        assert_eq!(wanted("bytes=0-", 0), Wanted::Nothing);
        assert_eq!(
            wanted("bytes=99999999999999999999999-", 10),
            Wanted::Nothing
        );
    }

    #[test]
    fn the_unit_is_case_insensitive() {
        assert_eq!(wanted("Bytes=1-2", 10), slice(1, 2));
        assert_eq!(wanted(" BYTES=1-2 ", 10), slice(1, 2));
    }

    #[test]
    fn anything_else_gets_the_whole_object() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5",
            "bytes=5-2",
            "bytes=99999999999999999999999-5",
            "bytes=0-1,4-5",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=a-",
            "bytes=-x",
            "bytes=1 -2",
            "items=0-1",
        ] {
            assert_eq!(wanted(header, 10), Wanted::Everything, "{header:?}");
        }
    }
}
