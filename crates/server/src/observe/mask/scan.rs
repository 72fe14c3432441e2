//! The scan every logged payload goes through: whether a text could hold anything masking would
//! change (a superset: a false alarm only costs the slow path).
//!
//! Masking changes a JSON text only through a key naming a credential field (in any case) or a
//! string value starting with a key prefix, and free text only through a word starting with a
//! key prefix. Unless the text has `\u` escapes (which could spell either), such a key appears
//! in it as `"name"` and a prefix as itself; every prefix holds a `-`, a `_` or an `A`. So only
//! quotes, those three and backslashes are looked at further, and each such byte is ruled out
//! by table lookups before anything is compared: a quote by the byte after it (most keys start
//! with no field name's letter), a `-`, `_` or `A` by the byte beside it (`prompt_tokens`,
//! `gpt-4o-mini`).
//!
//! Measured on a 618-byte chat completion (release build, one machine, one run): 0.69–0.74 µs
//! with every prefix compared at each `-`, `_` and `A`; 0.56–0.60 µs with the tables beside
//! them. Earlier: one byte-table pass 0.84 µs against 1.25 for an automaton over all names and
//! prefixes and 1.05 for vectorised searches, which JSON's quotes keep stopping; a 16-byte
//! step written as plain loops (no `unsafe`) was not vectorised and no faster.

use super::{SECRET_FIELDS, SECRET_PREFIXES};

pub(super) fn may_hold_secrets(text: &str) -> bool {
    const LOOK: [bool; 256] = {
        let mut t = [false; 256];
        t[b'"' as usize] = true;
        t[b'-' as usize] = true;
        t[b'_' as usize] = true;
        t[b'A' as usize] = true;
        t[b'\\' as usize] = true;
        t
    };
    let b = text.as_bytes();
    let mut from = 0;
    // `position` over the plain bytes compiles to a tighter loop than one test per byte.
    while let Some(k) = b[from..].iter().position(|&c| LOOK[usize::from(c)]) {
        let i = from + k;
        if hit_at(b, i) {
            return true;
        }
        from = i + 1;
    }
    false
}

/// Whether the byte at `i` (a quote, `-`, `_`, `A` or backslash) starts or holds something
/// masking would change.
fn hit_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'"' => field_name_at(b, i + 1),
        b'\\' => b.get(i + 1) == Some(&b'u'),
        _ => prefix_through(b, i),
    }
}

/// Whether a credential field's name, closed by a quote, starts at `at` (any case). Only the
/// names starting with the byte there are compared: most keys have none.
fn field_name_at(b: &[u8], at: usize) -> bool {
    let rest = &b[at..];
    let Some(&first) = rest.first() else {
        return false;
    };
    let mut names = FIELDS_BY_FIRST[usize::from(first)];
    while names != 0 {
        let f = SECRET_FIELDS[names.trailing_zeros() as usize].as_bytes();
        if rest.len() > f.len() && rest[f.len()] == b'"' && rest[..f.len()].eq_ignore_ascii_case(f)
        {
            return true;
        }
        names &= names - 1;
    }
    false
}

/// For each byte, the credential field names starting with it (in either case), as a bit set
/// over [`SECRET_FIELDS`].
const FIELDS_BY_FIRST: [u16; 256] = {
    assert!(SECRET_FIELDS.len() <= 16, "one bit per field name");
    let mut t = [0u16; 256];
    let mut k = 0;
    while k < SECRET_FIELDS.len() {
        let c = SECRET_FIELDS[k].as_bytes()[0];
        t[c.to_ascii_lowercase() as usize] |= 1 << k;
        t[c.to_ascii_uppercase() as usize] |= 1 << k;
        k += 1;
    }
    t
};

/// Whether a key prefix runs through `b[i]`, at the place of the prefix's first `-`, `_` or
/// `A` (where the scan finds it). JSON has many of those bytes (`prompt_tokens`,
/// `gpt-4o-mini`), so the byte beside one first rules out most prefixes by a table lookup.
fn prefix_through(b: &[u8], i: usize) -> bool {
    let before = i
        .checked_sub(1)
        .map_or(0, |k| BY_BYTE_BEFORE[usize::from(b[k])]);
    let after = b.get(i + 1).map_or(0, |&c| BY_BYTE_AFTER[usize::from(c)]);
    let mut prefixes = (before | after) & BY_ANCHOR[usize::from(b[i])];
    while prefixes != 0 {
        let (p, j) = PREFIX_ANCHORS[prefixes.trailing_zeros() as usize];
        if i >= j && b[i - j..].starts_with(p.as_bytes()) {
            return true;
        }
        prefixes &= prefixes - 1;
    }
    false
}

/// Each key prefix with the place of its first `-`, `_` or `A`, worked out once.
const PREFIX_ANCHORS: [(&str, usize); SECRET_PREFIXES.len()] = {
    assert!(SECRET_PREFIXES.len() <= 16, "one bit per prefix");
    let mut out = [("", 0); SECRET_PREFIXES.len()];
    let mut k = 0;
    while k < SECRET_PREFIXES.len() {
        let p = SECRET_PREFIXES[k].as_bytes();
        let mut j = 0;
        while !matches!(p[j], b'-' | b'_' | b'A') {
            j += 1; // Out of bounds, and so a build error, for a prefix without one.
        }
        assert!(
            j > 0 || p.len() > 1,
            "a prefix has a byte beside its anchor"
        );
        out[k] = (SECRET_PREFIXES[k], j);
        k += 1;
    }
    out
};

/// Bit sets over [`PREFIX_ANCHORS`], by byte: the prefixes anchored at that byte; those whose
/// byte before the anchor is it (prefixes anchored past their start); those whose byte after
/// the anchor is it (prefixes anchored at their start).
const BY_ANCHOR: [u16; 256] = by_byte(Beside::At);
const BY_BYTE_BEFORE: [u16; 256] = by_byte(Beside::Before);
const BY_BYTE_AFTER: [u16; 256] = by_byte(Beside::After);

enum Beside {
    At,
    Before,
    After,
}

/// For each prefix, marks its byte at the anchor, or just before it (if the anchor is not its
/// first byte), or just after it (if it is).
const fn by_byte(side: Beside) -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut k = 0;
    while k < PREFIX_ANCHORS.len() {
        let (p, j) = PREFIX_ANCHORS[k];
        let p = p.as_bytes();
        let place = match side {
            Beside::At => Some(j),
            Beside::Before if j > 0 => Some(j - 1),
            Beside::After if j == 0 => Some(1),
            _ => None,
        };
        if let Some(place) = place {
            t[p[place] as usize] |= 1 << k;
        }
        k += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan before its prefix tables: every prefix compared at every anchor byte.
    fn reference(b: &[u8]) -> bool {
        (0..b.len()).any(|i| match b[i] {
            b'"' => field_name_at(b, i + 1),
            b'\\' => b.get(i + 1) == Some(&b'u'),
            b'-' | b'_' | b'A' => PREFIX_ANCHORS
                .iter()
                .any(|&(p, j)| i >= j && b[i - j..].starts_with(p.as_bytes())),
            _ => false,
        })
    }

    /// The prefix tables rule out only what the plain comparison would: the scan answers as
    /// the reference on random texts dense in prefixes, their pieces and their neighbours.
    #[test]
    fn the_prefix_tables_agree_with_comparing_every_prefix() {
        let pieces: Vec<String> = [
            "\"",
            ":",
            " ",
            "\\u0073",
            "a",
            "K",
            "S",
            "I",
            "_",
            "-",
            "x",
            "A",
            "s",
            "k",
            "l",
            "p",
            "o",
            "b",
            "g",
            "h",
            "tokens",
            "é",
            "chatcmpl-9",
            "xox",
            "github",
            "pat",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(SECRET_FIELDS.iter().map(|f| f.to_string()))
        .chain(SECRET_PREFIXES.iter().map(|p| p.to_string()))
        .collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut hits, mut misses) = (0, 0);
        for _ in 0..100_000 {
            let text: String = (0..next(12))
                .map(|_| pieces[next(pieces.len())].as_str())
                .collect();
            let found = may_hold_secrets(&text);
            assert_eq!(found, reference(text.as_bytes()), "{text:?}");
            if found {
                hits += 1;
            } else {
                misses += 1;
            }
        }
        assert!(hits > 10_000 && misses > 10_000, "{hits} {misses}");
    }
}
