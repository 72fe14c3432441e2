//! The opaque listing cursor: the last record's `(created_at, id)`, hex-encoded so it is safe
//! in a URL whatever the id holds.

use crate::error::LogError;

pub(crate) fn encode(created_at: i64, id: &str) -> String {
    let raw = format!("{created_at}:{id}");
    let mut out = String::with_capacity(raw.len() * 2);
    for b in raw.bytes() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn decode(cursor: &str) -> Result<(i64, String), LogError> {
    let bad = || LogError::invalid("malformed cursor");
    if !cursor.len().is_multiple_of(2) || cursor.len() > 2048 {
        return Err(bad());
    }
    let digit = |c: u8| -> Result<u8, LogError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(bad()),
        }
    };
    let bytes = cursor
        .as_bytes()
        .chunks(2)
        .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
        .collect::<Result<Vec<u8>, LogError>>()?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    Ok((at, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejects_garbage() {
        let c = encode(-5, "a:b/ü");
        assert_eq!(decode(&c).unwrap(), (-5, "a:b/ü".to_owned()));
        for bad in ["", "zz", "abc", "3a", "ff", "00"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
