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
/// The text is read sixteen bytes at a time, each block turned into a mask of its bytes of
/// those kinds without branching (SSE2 compares on x86-64, through `safe_arch`; two eight-byte
/// words elsewhere), and only marked bytes are visited. (callgrind, the gateway's scans of one
/// chat request and its 648-byte completion: 10.2k instructions for a byte-table pass, which
/// stopped at every quote, 6.8k with eight-byte words, 4.7k with these blocks, most of it now
/// the stops. The byte-table pass had itself replaced an automaton over all names and prefixes
/// and vectorised searches, which JSON's punctuation keeps stopping.)
pub(super) fn may_hold_secrets(text: &str) -> bool {
    let b = text.as_bytes();
    let mut base = 0;
    for block in b.chunks_exact(16) {
        let mut marks = special_bytes(block.try_into().expect("chunks_exact gives 16 bytes"));
        while marks != 0 {
            if hit_at(b, base + marks.trailing_zeros() as usize) {
                return true;
            }
            marks &= marks - 1;
        }
        base += 16;
    }
    (base..b.len()).any(|i| hit_at(b, i))
}

/// The bytes of a block that are colons, backslashes or a prefix's anchor, one bit each (bit
/// `i` for `block[i]`).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
fn special_bytes(block: &[u8; 16]) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let v = m128i::from(*block);
    let is = |c: u8| cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(c as i8));
    let any = bitor_m128i(
        bitor_m128i(is(b':'), is(b'\\')),
        bitor_m128i(bitor_m128i(is(b'-'), is(b'_')), is(b'A')),
    );
    // One bit per byte, in the low 16 bits.
    move_mask_i8_m128i(any) as u32
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn special_bytes(block: &[u8; 16]) -> u32 {
    special_bytes_by_words(block)
}

/// As [`special_bytes`], from two little-endian words: each byte compared on its own (no carry
/// crosses into the next), its high bit set when it matches, then the eight high bits gathered.
/// (On x86-64 only the tests use it, against the SSE2 version.)
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn special_bytes_by_words(block: &[u8; 16]) -> u32 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte of `x` that is zero.
    let zero = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    let splat = |c: u8| u64::from(c) * 0x0101_0101_0101_0101;
    let word = |at: usize| {
        let w = u64::from_le_bytes(block[at..at + 8].try_into().expect("two halves"));
        let high = zero(w ^ splat(b':'))
            | zero(w ^ splat(b'-'))
            | zero(w ^ splat(b'_'))
            | zero(w ^ splat(b'A'))
            | zero(w ^ splat(b'\\'));
        // Bit 7 of byte k lands on bit 56 + k; no two partial products overlap there.
        ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    };
    word(0) | word(8) << 8
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every place of a block, and random blocks: both versions mark
    /// exactly the colons, backslashes, `-`, `_` and `A`.
    #[test]
    fn blocks_mark_exactly_the_special_bytes() {
        let expected = |block: &[u8; 16]| {
            (0..16)
                .filter(|&i| matches!(block[i], b':' | b'\\' | b'-' | b'_' | b'A'))
                .fold(0u32, |m, i| m | 1 << i)
        };
        let mut blocks = Vec::new();
        for at in 0..16 {
            for byte in 0..=255u8 {
                let mut block = [b'a'; 16];
                block[at] = byte;
                blocks.push(block);
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut block = [0u8; 16];
            for b in &mut block {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly the special bytes and their neighbours, some of anything.
                *b = match seed % 4 {
                    0 => b":\\-_A@B^`9;,"[(seed >> 8) as usize % 12],
                    _ => (seed >> 16) as u8,
                };
            }
            blocks.push(block);
        }
        for block in &blocks {
            assert_eq!(special_bytes(block), expected(block), "{block:?}");
            assert_eq!(special_bytes_by_words(block), expected(block), "{block:?}");
        }
    }

    /// A special byte in the tail after the last whole block is still looked at.
    #[test]
    fn the_tail_after_the_last_block_is_scanned() {
        for len in 0..40 {
            let text = format!("{}\"api_key\": 1", "x".repeat(len));
            assert!(may_hold_secrets(&text), "{text}");
            let text = format!("{}\"name\": 1", "x".repeat(len));
            assert!(!may_hold_secrets(&text), "{text}");
        }
    }
}
