//! The scan every logged payload goes through: whether a text could hold anything masking would
//! change (see [`may_hold_secrets`]).

use super::{SECRET_FIELDS, SECRET_PREFIXES};

/// Whether `text` could hold something masking would change: a superset (a false alarm only
/// costs the slow path) that looks closer only at a few kinds of byte.
///
/// Masking changes a JSON text only through an object key naming a credential field (in any
/// case) or a string value starting with a key prefix, and free text only through a word
/// starting with a key prefix. Unless the text has `\u` escapes (which could spell either), such
/// a key appears as `"name"` before its colon (JSON whitespace between) and a prefix as itself;
/// every prefix holds a `-`, a `_` or an `A`. So only colons, those three and backslashes are
/// looked at further: JSON has far fewer colons than quotes.
///
/// The text is read eight bytes at a time, each word turned into a mask of its bytes of those
/// kinds without branching, and only marked bytes are visited. (callgrind, the gateway's scans
/// of one chat request and its 648-byte completion: 10.2k instructions for the byte-table pass
/// this replaces, which stopped at every quote, and 6.9k for this. That pass had itself replaced
/// an automaton over all names and prefixes and vectorised searches, which JSON's punctuation
/// keeps stopping.)
pub(super) fn may_hold_secrets(text: &str) -> bool {
    let b = text.as_bytes();
    let mut base = 0;
    for word in b.chunks_exact(8) {
        let mut marks = special_bytes(u64::from_le_bytes(
            word.try_into().expect("chunks_exact gives eight bytes"),
        ));
        while marks != 0 {
            if hit_at(b, base + (marks.trailing_zeros() / 8) as usize) {
                return true;
            }
            marks &= marks - 1;
        }
        base += 8;
    }
    (base..b.len()).any(|i| hit_at(b, i))
}

/// The bytes of a little-endian word that are colons, backslashes or a prefix's anchor, as
/// their high bits. Exact: each byte is compared on its own, no carry crosses into the next.
fn special_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte of `x` that is zero.
    let zero = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    let splat = |c: u8| u64::from(c) * 0x0101_0101_0101_0101;
    zero(w ^ splat(b':'))
        | zero(w ^ splat(b'-'))
        | zero(w ^ splat(b'_'))
        | zero(w ^ splat(b'A'))
        | zero(w ^ splat(b'\\'))
}

/// Whether what is at `b[i]` could start masking: a credential field's key before a colon, a
/// key prefix through an anchor byte, or a `\u` escape. Other bytes never do.
#[inline(always)]
fn hit_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        b':' => field_key_before(b, i),
        // Most `-` and `_` in JSON are inside words such as `finish_reason`: the byte before
        // rules them out at once.
        b'-' => i > 0 && prefix_through(b, i, DASH_AFTER[usize::from(b[i - 1])]),
        b'_' => i > 0 && prefix_through(b, i, UNDERSCORE_AFTER[usize::from(b[i - 1])]),
        b'A' => b
            .get(i + 1)
            .is_some_and(|&n| prefix_through(b, i, CAPITAL_A_BEFORE[usize::from(n)])),
        b'\\' => b.get(i + 1) == Some(&b'u'),
        _ => false,
    }
}

/// Whether a credential field's name, in quotes, ends before the colon at `colon` (any case;
/// JSON whitespace may separate them). Only the names ending with the byte there are compared.
fn field_key_before(b: &[u8], colon: usize) -> bool {
    let head = b[..colon].trim_ascii_end();
    let Some(name_end) = head.len().checked_sub(1).filter(|&q| head[q] == b'"') else {
        return false;
    };
    let Some(&last) = head[..name_end].last() else {
        return false;
    };
    let mut names = FIELDS_BY_LAST[usize::from(last)];
    while names != 0 {
        let f = SECRET_FIELDS[names.trailing_zeros() as usize].as_bytes();
        if let Some(open) = name_end.checked_sub(f.len() + 1)
            && head[open] == b'"'
            && head[open + 1..name_end].eq_ignore_ascii_case(f)
        {
            return true;
        }
        names &= names - 1;
    }
    false
}

/// For each byte, the credential field names ending with it (in either case), as a bit set
/// over [`SECRET_FIELDS`].
const FIELDS_BY_LAST: [u16; 256] = {
    assert!(SECRET_FIELDS.len() <= 16, "one bit per field name");
    let mut t = [0u16; 256];
    let mut k = 0;
    while k < SECRET_FIELDS.len() {
        let f = SECRET_FIELDS[k].as_bytes();
        let c = f[f.len() - 1];
        t[c.to_ascii_lowercase() as usize] |= 1 << k;
        t[c.to_ascii_uppercase() as usize] |= 1 << k;
        k += 1;
    }
    t
};

/// Whether one of the key prefixes in `prefixes` (a bit set over [`PREFIX_ANCHORS`]) runs
/// through `b[i]`, at the place of the prefix's first `-`, `_` or `A`.
fn prefix_through(b: &[u8], i: usize, mut prefixes: u16) -> bool {
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
    let mut out = [("", 0); SECRET_PREFIXES.len()];
    let mut k = 0;
    while k < SECRET_PREFIXES.len() {
        let p = SECRET_PREFIXES[k].as_bytes();
        let mut j = 0;
        while !matches!(p[j], b'-' | b'_' | b'A') {
            j += 1; // Out of bounds, and so a build error, for a prefix without one.
        }
        out[k] = (SECRET_PREFIXES[k], j);
        k += 1;
    }
    out
};

/// The prefixes anchored on `anchor`, by the byte beside the anchor in the prefix (before it,
/// or after it for a prefix that starts with its anchor), as a bit set over [`PREFIX_ANCHORS`].
const fn prefixes_by_neighbour(anchor: u8, before: bool) -> [u16; 256] {
    assert!(SECRET_PREFIXES.len() <= 16, "one bit per prefix");
    let mut t = [0u16; 256];
    let mut k = 0;
    while k < PREFIX_ANCHORS.len() {
        let (p, j) = PREFIX_ANCHORS[k];
        let p = p.as_bytes();
        if p[j] == anchor {
            // Every prefix anchored on `-` or `_` has a byte before its anchor, and every one
            // anchored on `A` starts with it and has one after (else a build error).
            assert!(
                before == (j > 0),
                "prefix anchored where its neighbour is not looked at"
            );
            t[(if before { p[j - 1] } else { p[j + 1] }) as usize] |= 1 << k;
        }
        k += 1;
    }
    t
}

const DASH_AFTER: [u16; 256] = prefixes_by_neighbour(b'-', true);
const UNDERSCORE_AFTER: [u16; 256] = prefixes_by_neighbour(b'_', true);
const CAPITAL_A_BEFORE: [u16; 256] = prefixes_by_neighbour(b'A', false);
