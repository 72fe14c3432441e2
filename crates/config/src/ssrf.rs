//! `custom_host` SSRF policy: syntax checks, cloud-metadata denial and a private-address trust list.
//!
//! The rules follow Portkey's `isValidCustomHost` (compat reference §3.4) with these deliberate
//! differences, all in the safer direction or fixing Portkey bugs:
//!
//! * The host is taken from the raw text, not from a WHATWG parse. A WHATWG parser silently turns
//!   `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` into `127.0.0.1` (so Portkey then lets
//!   them through as the trusted `127.0.0.1`); here any host whose last label is numeric must be a
//!   canonical dotted quad, else it is rejected as ambiguous. The `url` crate's parse is only used
//!   afterwards to normalise the path, and must agree with our host or the URL is rejected.
//! * Bracketed IPv6 literals work (Portkey rejects every IPv6 host because the brackets fail its
//!   character check) and are classified by value, including v4-mapped/compatible, NAT64 and 6to4
//!   forms that embed a private or metadata IPv4 address.
//! * Cloud-metadata targets are denied even when trusted (Portkey checks trust first).
//! * Bare `localhost` is a reserved name like `*.localhost` (Portkey always allows it).
//! * The trust list also takes `*.suffix` wildcards and CIDRs (Portkey issue #1587).
//! * Queries, fragments, empty ports and a few more ambiguous spellings are rejected.
//!
//! No DNS is done here: a public name that resolves to a private address is the connector's job.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, RwLock};

use ipnet::IpNet;

/// Longest accepted `custom_host`; a base URL has no business being longer.
const MAX_URL_LEN: usize = 2048;
/// Portkey's cap on host labels (deep names are a DNS-rebinding tool).
const MAX_LABELS: usize = 10;
/// DNS limits: longer names can never resolve, so they are only ever noise or an attack.
const MAX_LABEL_LEN: usize = 63;
const MAX_HOST_LEN: usize = 253;

/// Characters Portkey treats as injection attempts; all are invalid in a URL anyway.
const SUSPICIOUS: &[char] = &['<', '>', '{', '}', '|', '\\', '^', '`'];

/// Host names of cloud metadata services. `metadata.goog` is GCP's alias of
/// `metadata.google.internal`; `instance-data.ec2.internal` is AWS's full form of `instance-data`.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.com",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Special-use / internal TLDs (Portkey's list): they only ever resolve to internal networks.
const RESERVED_TLDS: &[&str] = &[
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".lan",
    ".home",
    ".corp",
    ".test",
    ".invalid",
    ".onion",
    ".localhost",
];

/// Portkey's default `TRUSTED_CUSTOM_HOSTS`.
const DEFAULT_TRUSTED: &[&str] = &["localhost", "127.0.0.1", "::1", "host.docker.internal"];

/// Which private destinations a `custom_host` may name. Cloud metadata is never trustable.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    /// Exact host names (lowercase).
    names: HashSet<String>,
    /// `*.suffix` entries, stored with the leading dot (`.svc.cluster.local`).
    suffixes: Vec<String>,
    ips: Vec<IpAddr>,
    nets: Vec<IpNet>,
    /// Portkey: trusting `localhost` also trusts every `*.localhost` name.
    localhost_subdomains: bool,
    /// Verdicts on hosts seen before: clients send the same custom host on every request.
    cache: Arc<RwLock<HashMap<String, Result<String, HostRejection>>>>,
}

/// How many distinct hosts the verdict cache remembers before it starts over.
const CACHE_CAPACITY: usize = 1024;

impl Default for HostPolicy {
    /// Portkey's default trust list: `localhost` (and `*.localhost`), `127.0.0.1`, `::1`,
    /// `host.docker.internal`.
    fn default() -> Self {
        let mut policy = HostPolicy::empty();
        for entry in DEFAULT_TRUSTED {
            // The defaults are well-formed; `add` cannot fail on them, and if it ever did the
            // policy would only be stricter.
            let _ = policy.add(entry);
        }
        policy
    }
}

/// Why a `custom_host` was refused; `reason` says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRejection {
    pub reason: String,
}

impl HostRejection {
    fn new(reason: impl Into<String>) -> Self {
        HostRejection {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for HostRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for HostRejection {}

/// The host part of a URL, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

impl HostPolicy {
    fn empty() -> Self {
        HostPolicy {
            names: HashSet::new(),
            suffixes: Vec::new(),
            ips: Vec::new(),
            nets: Vec::new(),
            localhost_subdomains: false,
            cache: Arc::default(),
        }
    }

    /// A policy trusting exactly `entries` (replacing the defaults, as Portkey's env var does).
    ///
    /// Entries are host names, `*.suffix` wildcards (e.g. `*.svc.cluster.local`, matching any
    /// depth of subdomain but not the bare suffix), IPs (`10.1.2.3`, `::1` or `[::1]`) or CIDRs
    /// (`10.0.0.0/8`). Case and surrounding whitespace are ignored, empty entries skipped.
    /// An invalid entry → `Err` naming it.
    pub fn with_trusted<I, S>(entries: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut policy = HostPolicy::empty();
        for entry in entries {
            policy.add(entry.as_ref())?;
        }
        Ok(policy)
    }

    fn add(&mut self, raw: &str) -> Result<(), String> {
        let entry = raw.trim().to_ascii_lowercase();
        if entry.is_empty() {
            return Ok(());
        }
        let invalid = |why: &str| format!("invalid trusted_custom_hosts entry {raw:?}: {why}");
        if entry.contains('/') {
            let net: IpNet = entry
                .parse()
                .map_err(|_| invalid("not a valid CIDR such as 10.0.0.0/8 or fd00::/8"))?;
            self.nets.push(net);
            return Ok(());
        }
        if let Some(suffix) = entry.strip_prefix("*.") {
            validate_trusted_name(suffix).map_err(|why| invalid(&why))?;
            self.suffixes.push(format!(".{suffix}"));
            return Ok(());
        }
        let unbracketed = entry
            .strip_prefix('[')
            .and_then(|e| e.strip_suffix(']'))
            .unwrap_or(&entry);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            self.ips.push(ip);
            return Ok(());
        }
        validate_trusted_name(&entry).map_err(|why| invalid(&why))?;
        if entry == "localhost" {
            self.localhost_subdomains = true;
        }
        self.names.insert(entry);
        Ok(())
    }

    /// Validates a custom host URL and returns its normalised base URL:
    /// `scheme://host[:port][/path]`, lowercase scheme and host, default port dropped, no
    /// trailing slash. Otherwise the reason, phrased as what to fix.
    pub fn check(&self, raw: &str) -> Result<String, HostRejection> {
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(raw).cloned()) {
            return hit;
        }
        let verdict = self.check_uncached(raw);
        if raw.len() <= 2048
            && let Ok(mut c) = self.cache.write()
        {
            if c.len() >= CACHE_CAPACITY {
                c.clear();
            }
            c.insert(raw.to_owned(), verdict.clone());
        }
        verdict
    }

    fn check_uncached(&self, raw: &str) -> Result<String, HostRejection> {
        let parsed = parse(raw)?;
        self.authorise(&parsed.host)?;
        normalise(&parsed)
    }

    /// The destination rules: metadata never, private only when trusted, public always.
    fn authorise(&self, host: &Host) -> Result<(), HostRejection> {
        let metadata = || {
            HostRejection::new(format!(
                "custom_host {host} is a cloud metadata address and is never allowed"
            ))
        };
        let private = || {
            HostRejection::new(format!(
                "custom_host {host} is a private or reserved address; add it to \
                 trusted_custom_hosts to allow it"
            ))
        };
        match host {
            Host::V4(a) => {
                if is_metadata_v4(*a) {
                    return Err(metadata());
                }
                if self.trusts_ip(IpAddr::V4(*a)) {
                    return Ok(());
                }
                if is_private_v4(*a) {
                    return Err(private());
                }
            }
            Host::V6(a) => {
                let embedded = embedded_v4(*a);
                if is_metadata_v6(*a) || embedded.is_some_and(is_metadata_v4) {
                    return Err(metadata());
                }
                // Trusting 127.0.0.1 also trusts ::ffff:127.0.0.1: it is the same destination.
                if self.trusts_ip(IpAddr::V6(*a))
                    || embedded.is_some_and(|v4| self.trusts_ip(IpAddr::V4(v4)))
                {
                    return Ok(());
                }
                if is_private_v6(*a) || embedded.is_some_and(is_private_v4) {
                    return Err(private());
                }
            }
            Host::Name(n) => {
                if METADATA_NAMES.contains(&n.as_str()) {
                    return Err(metadata());
                }
                if self.trusts_name(n) {
                    return Ok(());
                }
                if n == "localhost" || RESERVED_TLDS.iter().any(|tld| n.ends_with(tld)) {
                    return Err(HostRejection::new(format!(
                        "custom_host {n} uses a local or internal-only name (.local, .internal, \
                         .localhost, …); add it to trusted_custom_hosts to allow it"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether a connection to `ip`, which `host` resolved to, may be made. Checked when
    /// connecting, after DNS, so a public-looking name cannot lead to a private or metadata
    /// address: metadata addresses never; private ones only when the name or address is trusted.
    pub fn allows_resolved(&self, host: &str, ip: IpAddr) -> bool {
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => embedded_v4(a),
        };
        let metadata =
            v4.is_some_and(is_metadata_v4) || matches!(ip, IpAddr::V6(a) if is_metadata_v6(a));
        if metadata {
            return false;
        }
        let private =
            v4.is_some_and(is_private_v4) || matches!(ip, IpAddr::V6(a) if is_private_v6(a));
        if !private {
            return true;
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        self.trusts_ip(ip)
            || v4.is_some_and(|a| self.trusts_ip(IpAddr::V4(a)))
            || self.trusts_name(&name)
    }

    fn trusts_ip(&self, ip: IpAddr) -> bool {
        self.ips.contains(&ip) || self.nets.iter().any(|net| net.contains(&ip))
    }

    fn trusts_name(&self, name: &str) -> bool {
        self.names.contains(name)
            || (self.localhost_subdomains && name.ends_with(".localhost"))
            || self.suffixes.iter().any(|s| name.ends_with(s.as_str()))
    }
}

/// A syntactically valid custom host, split up.
struct Parsed<'a> {
    /// The input minus surrounding spaces (original case, for the path).
    text: &'a str,
    host: Host,
}

fn reject<T>(reason: impl Into<String>) -> Result<T, HostRejection> {
    Err(HostRejection::new(reason))
}

/// Syntax checks on the raw text, and the host taken from it without any WHATWG leniency.
fn parse(raw: &str) -> Result<Parsed<'_>, HostRejection> {
    // Portkey trims before validating; only spaces, so tabs/newlines still count as control chars.
    let text = raw.trim_matches(' ');
    if text.is_empty() {
        return reject("custom_host is empty");
    }
    if text.len() > MAX_URL_LEN {
        return reject(format!(
            "custom_host is too long; use at most {MAX_URL_LEN} characters"
        ));
    }
    if text.chars().any(char::is_control) {
        return reject("custom_host must not contain control characters");
    }
    if text.chars().any(char::is_whitespace) {
        return reject("custom_host must not contain whitespace");
    }
    if text.contains(SUSPICIOUS) {
        return reject("custom_host must not contain any of < > { } | \\ ^ `");
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("api.portkey") {
        return reject("custom_host must not point at Portkey's hosted API (api.portkey.*)");
    }

    // `localhost:11434` parses as scheme `localhost`; it is really a missing scheme.
    let Some((scheme, rest)) =
        split_scheme(&lower).filter(|(_, rest)| !rest.starts_with(|c: char| c.is_ascii_digit()))
    else {
        return reject("custom_host must be an absolute URL such as https://host[:port][/path]");
    };
    if scheme != "http" && scheme != "https" {
        return reject(format!("custom_host must use http or https, not {scheme}:"));
    }
    let Some(rest) = rest.strip_prefix("//") else {
        return reject(format!(
            "custom_host must start with {scheme}:// followed by the host"
        ));
    };
    // Anywhere, as Portkey: credentials and `user@host` confusion tricks alike.
    if rest.contains('@') {
        return reject("custom_host must not contain credentials or '@'");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if tail.contains(['?', '#']) {
        return reject("custom_host must not contain a query string or fragment");
    }
    if authority.is_empty() {
        return reject("custom_host has no host name");
    }
    if authority.contains('%') {
        return reject(
            "custom_host host must not contain '%' (percent-encoding or an IPv6 zone id)",
        );
    }

    let (host_text, port) = split_port(authority)?;
    if let Some(port) = port {
        validate_port(port)?;
    }
    let host = classify_host(host_text)?;
    Ok(Parsed { text, host })
}

/// `scheme` and what follows its `:`, when the text starts with a syntactically valid scheme.
fn split_scheme(lower: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = lower.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// Splits `host[:port]` / `[v6][:port]`; the host keeps its brackets.
fn split_port(authority: &str) -> Result<(&str, Option<&str>), HostRejection> {
    if authority.starts_with('[') {
        let Some(close) = authority.find(']') else {
            return reject("custom_host has an unterminated IPv6 literal; close it with ']'");
        };
        let (host, after) = authority.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => reject("custom_host has unexpected characters after the IPv6 literal"),
            },
        };
    }
    match authority.split_once(':') {
        None => Ok((authority, None)),
        Some((_, port)) if port.contains(':') => reject(
            "custom_host IPv6 addresses must be written in brackets, e.g. http://[2001:db8::1]:8080",
        ),
        Some((host, port)) => Ok((host, Some(port))),
    }
}

fn validate_port(port: &str) -> Result<(), HostRejection> {
    let valid = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    if valid {
        Ok(())
    } else {
        reject(format!(
            "custom_host port {port:?} is invalid; use a number from 1 to 65535"
        ))
    }
}

/// The host (already lowercase) as a name or an address; alternative IPv4 spellings rejected.
fn classify_host(host: &str) -> Result<Host, HostRejection> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(a) => Ok(Host::V6(a)),
            Err(_) => reject(format!("custom_host {host} is not a valid IPv6 address")),
        };
    }
    if host.is_empty() {
        return reject("custom_host has no host name");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return reject(format!(
            "custom_host host name {host:?} may only contain letters, digits, '.' and '-' \
             (write international names in their xn-- form)"
        ));
    }
    if host.ends_with('.') {
        return reject(format!(
            "custom_host host name {host} must not end with '.'"
        ));
    }
    if host.len() > MAX_HOST_LEN {
        return reject(format!(
            "custom_host host name is longer than {MAX_HOST_LEN} characters"
        ));
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return reject(format!("custom_host host name {host} has an empty label"));
    }
    if labels.len() > MAX_LABELS {
        return reject(format!(
            "custom_host host name {host} has more than {MAX_LABELS} labels"
        ));
    }
    if labels.iter().any(|l| l.len() > MAX_LABEL_LEN) {
        return reject(format!(
            "custom_host host name {host} has a label longer than {MAX_LABEL_LEN} characters"
        ));
    }
    if !looks_numeric(host) {
        return Ok(Host::Name(host.to_owned()));
    }
    match canonical_v4(&labels) {
        Some(a) => Ok(Host::V4(a)),
        None => reject(format!(
            "custom_host {host} is an ambiguous IPv4 spelling (decimal, hex, octal or \
             shortened); write the address as four decimal octets such as 93.184.216.34"
        )),
    }
}

/// WHATWG's "ends in a number": such a host is parsed as IPv4 by URL parsers, in any radix.
fn looks_numeric(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    last.strip_prefix("0x")
        .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Four decimal octets, no leading zeros (which some parsers read as octal).
fn canonical_v4(labels: &[&str]) -> Option<Ipv4Addr> {
    if labels.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, label) in octets.iter_mut().zip(labels) {
        let digits_ok = (1..=3).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok || (label.len() > 1 && label.starts_with('0')) {
            return None;
        }
        *slot = label.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

fn is_metadata_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    // 169.254.169.0/24 covers AWS/GCP/Azure/OCI IMDS (Portkey's `169.254.169.*`);
    // 169.254.170.2 is the ECS task-metadata endpoint; 100.100.100.200 is Alibaba Cloud's.
    (o0, o1, o2) == (169, 254, 169)
        || a == Ipv4Addr::new(169, 254, 170, 2)
        || a == Ipv4Addr::new(100, 100, 100, 200)
}

fn is_metadata_v6(a: Ipv6Addr) -> bool {
    // AWS IMDS is fd00:ec2::254; Portkey blocks the whole `fd00:ec2::` family, we the /32.
    let s = a.segments();
    s[0] == 0xfd00 && s[1] == 0x0ec2
}

fn is_private_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, ..] = a.octets();
    let private = o0 == 10 || (o0 == 172 && (16..=31).contains(&o1)) || (o0 == 192 && o1 == 168);
    let loopback = o0 == 127;
    let link_local = o0 == 169 && o1 == 254;
    let cgnat = o0 == 100 && (64..=127).contains(&o1);
    let this_network = o0 == 0; // 0/8, including 0.0.0.0
    let multicast_or_reserved = o0 >= 224; // 224/4 multicast, 240/4 reserved, broadcast
    private || loopback || link_local || cgnat || this_network || multicast_or_reserved
}

fn is_private_v6(a: Ipv6Addr) -> bool {
    let s0 = a.segments()[0];
    a.is_loopback()
        || a.is_unspecified()
        || (s0 & 0xfe00) == 0xfc00 // ULA fc00::/7
        || (s0 & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s0 & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (s0 & 0xff00) == 0xff00 // multicast
}

/// The IPv4 address an IPv6 address routes to or stands for, when it embeds one:
/// v4-mapped `::ffff:a.b.c.d`, v4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:ab:cd::`.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = a.to_ipv4() {
        return Some(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    None
}

/// Host names in the trust list: the same alphabet as hosts, and not an IP-looking spelling.
fn validate_trusted_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty host name".to_owned());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(
            "expected a host name, *.suffix wildcard, IP address or CIDR (no scheme, port or \
             other wildcards)"
                .to_owned(),
        );
    }
    if name.split('.').any(str::is_empty) {
        return Err("host name has an empty label or a trailing dot".to_owned());
    }
    if looks_numeric(name) {
        return Err("not a valid IP address (use four decimal octets)".to_owned());
    }
    Ok(())
}

/// The normalised base URL. The `url` crate handles the path (dot segments, percent-encoding)
/// but must see the same host we vetted, so no parser differential can smuggle a different one.
fn normalise(parsed: &Parsed<'_>) -> Result<String, HostRejection> {
    let url = match url::Url::parse(parsed.text) {
        Ok(url) => url,
        Err(e) => return reject(format!("custom_host is not a valid URL: {e}")),
    };
    let same_host = match (url.host(), &parsed.host) {
        (Some(url::Host::Domain(d)), Host::Name(n)) => d == n,
        (Some(url::Host::Ipv4(a)), Host::V4(b)) => a == *b,
        (Some(url::Host::Ipv6(a)), Host::V6(b)) => a == *b,
        _ => false,
    };
    let Some(host) = url.host_str().filter(|_| same_host) else {
        return reject(format!(
            "custom_host host {} could not be parsed unambiguously",
            parsed.host
        ));
    };
    let mut out = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path().trim_end_matches('/'));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(policy: &HostPolicy, raw: &str) -> String {
        match policy.check(raw) {
            Ok(url) => url,
            Err(e) => panic!("{raw:?} rejected: {}", e.reason),
        }
    }

    fn rejected(policy: &HostPolicy, raw: &str) -> String {
        match policy.check(raw) {
            Ok(url) => panic!("{raw:?} accepted as {url}"),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn accepts_public_and_default_trusted_hosts() {
        let p = HostPolicy::default();
        let cases = [
            ("https://api.example.com", "https://api.example.com"),
            ("https://api.example.com/", "https://api.example.com"),
            ("https://API.Example.COM/V1/", "https://api.example.com/V1"),
            ("http://example.com:8080/v1", "http://example.com:8080/v1"),
            ("https://example.com:443/v1", "https://example.com/v1"),
            ("http://example.com:00080", "http://example.com"),
            ("https://example.com/a/b//", "https://example.com/a/b"),
            ("https://example.com/v1/../v2", "https://example.com/v2"),
            ("  https://example.com  ", "https://example.com"),
            ("http://8.8.8.8", "http://8.8.8.8"),
            ("http://93.184.216.34:81/x", "http://93.184.216.34:81/x"),
            (
                "http://[2001:4860:4860::8888]",
                "http://[2001:4860:4860::8888]",
            ),
            (
                "http://[2001:4860:4860:0::8888]:99",
                "http://[2001:4860:4860::8888]:99",
            ),
            ("http://[::ffff:8.8.8.8]", "http://[::ffff:808:808]"),
            ("http://ollama:11434", "http://ollama:11434"),
            ("http://a-b.c-d.example", "http://a-b.c-d.example"),
            ("http://xn--bcher-kva.de", "http://xn--bcher-kva.de"),
            ("http://1.2.3.4.example.com", "http://1.2.3.4.example.com"),
            ("http://0x.example.com", "http://0x.example.com"),
            ("http://a.b.c.d.e.f.g.h.i.j", "http://a.b.c.d.e.f.g.h.i.j"),
            // Portkey's default trust list.
            ("http://localhost:11434", "http://localhost:11434"),
            ("http://LOCALHOST:11434/", "http://localhost:11434"),
            ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080"),
            ("http://foo.localhost", "http://foo.localhost"),
            ("http://a.b.localhost:3000", "http://a.b.localhost:3000"),
            (
                "http://host.docker.internal:11434",
                "http://host.docker.internal:11434",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(ok(&p, raw), want, "{raw}");
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        let p = HostPolicy::default();
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("http://exa\tmple.com", "control"),
            ("http://example.com\n", "control"),
            ("http://example.com/\u{7f}", "control"),
            ("http://example.com/\u{85}", "control"),
            ("http://exa mple.com", "whitespace"),
            ("http://example.com/\u{a0}", "whitespace"),
            ("http://exa<mple.com", "< >"),
            ("http://example.com/{x}", "< >"),
            ("http://example.com|x", "< >"),
            ("http://example.com\\@evil.com", "< >"),
            ("http://example.com^", "< >"),
            ("http://example.com/`", "< >"),
            ("https://api.portkey.ai", "Portkey"),
            ("https://API.PORTKEY.ai/v1", "Portkey"),
            ("https://example.com/api.portkey", "Portkey"),
            ("file:///etc/passwd", "http or https"),
            ("data:text/plain,hi", "http or https"),
            ("gopher://example.com", "http or https"),
            ("ftp://example.com", "http or https"),
            ("ftps://example.com", "http or https"),
            ("ws://example.com", "http or https"),
            ("javascript:alert(1)", "http or https"),
            ("example.com", "absolute URL"),
            ("localhost:11434", "absolute URL"),
            ("LOCALHOST:11434/v1", "absolute URL"),
            ("//example.com", "absolute URL"),
            ("http:example.com", "http://"),
            ("http:/example.com", "http://"),
            ("http://user:pw@example.com", "'@'"),
            ("http://user@example.com", "'@'"),
            ("http://example.com@evil.com", "'@'"),
            ("http://example.com/@x", "'@'"),
            ("http://exa%6dple.com", "'%'"),
            ("http://[fe80::1%25eth0]", "'%'"),
            ("http://exa_mple.com", "letters, digits"),
            ("http://bücher.de", "letters, digits"),
            ("http://exa!mple.com", "letters, digits"),
            ("http://example.com.", "end with '.'"),
            ("http://example..com", "empty label"),
            ("http://.example.com", "empty label"),
            ("http://a.b.c.d.e.f.g.h.i.j.k", "more than 10 labels"),
            ("http://", "no host"),
            ("http:///path", "no host"),
            ("http://:8080", "no host"),
            ("http://example.com:0", "port"),
            ("http://example.com:65536", "port"),
            ("http://example.com:99999", "port"),
            ("http://example.com:123456", "port"),
            ("http://example.com:", "port"),
            ("http://example.com:-1", "port"),
            ("http://example.com:80a", "port"),
            ("http://[::1]:0", "port"),
            ("http://example.com?x=1", "query"),
            ("http://example.com/v1?x=1", "query"),
            ("http://example.com/v1#frag", "fragment"),
            ("http://example.com#", "fragment"),
            ("http://[::1", "unterminated"),
            ("http://[::1]x", "after the IPv6"),
            ("http://[not-v6]", "not a valid IPv6"),
            ("http://[1.2.3.4]", "not a valid IPv6"),
            ("http://::1", "brackets"),
            ("http://2001:db8::1:80", "brackets"),
            ("http://xn--zz", "valid URL"),
        ];
        for (raw, needle) in cases {
            let reason = rejected(&p, raw);
            assert!(
                reason.contains(needle),
                "{raw:?}: {reason:?} lacks {needle:?}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(rejected(&p, &long).contains("too long"));
        let long_label = format!("https://{}.com", "a".repeat(64));
        assert!(rejected(&p, &long_label).contains("longer than 63"));
    }

    #[test]
    fn rejects_alternative_ipv4_spellings_even_when_trusted() {
        let trusted = HostPolicy::with_trusted(["127.0.0.1", "0.0.0.0/0"]).unwrap();
        for p in [HostPolicy::default(), trusted] {
            for raw in [
                "http://2130706433",
                "http://2130706433:8000",
                "http://0x7f000001",
                "http://0X7F000001",
                "http://0x7f.0.0.1",
                "http://0177.0.0.1",
                "http://0177.0.0.01",
                "http://127.1",
                "http://127.0.1",
                "http://10.1",
                "http://8.8.8.8.8",
                "http://08.8.8.8",
                "http://1.2.3.256",
                "http://1.2.3.0x4",
                "http://example.123",
                "http://example.0x1f",
                "http://0",
                "http://3232235521", // 192.168.0.1
                "http://134744072",  // 8.8.8.8: public, still ambiguous
            ] {
                assert!(rejected(&p, raw).contains("ambiguous IPv4"), "{raw}");
            }
        }
    }

    #[test]
    fn metadata_is_denied_even_when_trusted() {
        let trust_all = HostPolicy::with_trusted([
            "0.0.0.0/0",
            "::/0",
            "169.254.169.254",
            "fd00:ec2::254",
            "metadata.google.internal",
            "metadata",
            "*.internal",
            "*.google.internal",
            "metadata.azure.com",
            "instance-data",
            "*.ec2.internal",
            "metadata.goog",
        ])
        .unwrap();
        for p in [HostPolicy::default(), trust_all] {
            for raw in [
                "http://169.254.169.254",
                "http://169.254.169.254/latest/meta-data",
                "http://169.254.169.1:80",
                "http://169.254.169.123",
                "http://169.254.170.2/v2/credentials",
                "http://100.100.100.200",
                "http://[fd00:ec2::254]",
                "http://[fd00:ec2::1]",
                "http://[fd00:ec2:0:1::254]",
                "http://[::ffff:169.254.169.254]",
                "http://[::ffff:a9fe:a9fe]",
                "http://[::169.254.169.254]",
                "http://[64:ff9b::169.254.169.254]",
                "http://[2002:a9fe:a9fe::1]",
                "http://metadata.google.internal",
                "http://METADATA.google.internal/computeMetadata/v1",
                "http://metadata",
                "http://metadata.azure.com",
                "http://metadata.goog",
                "http://instance-data",
                "http://instance-data.ec2.internal",
            ] {
                assert!(rejected(&p, raw).contains("cloud metadata"), "{raw}");
            }
        }
    }

    #[test]
    fn private_targets_need_trust() {
        let p = HostPolicy::default();
        for raw in [
            "http://10.1.2.3",
            "http://10.0.0.0",
            "http://172.16.0.1",
            "http://172.31.255.255",
            "http://192.168.1.1",
            "http://127.0.0.2",
            "http://127.255.255.255",
            "http://169.254.1.1",
            "http://100.64.0.1",
            "http://100.127.255.255",
            "http://0.0.0.0",
            "http://0.1.2.3",
            "http://224.0.0.1",
            "http://239.255.255.250",
            "http://240.0.0.1",
            "http://255.255.255.255",
            "http://[::]",
            "http://[fc00::1]",
            "http://[fd12:3456::1]",
            "http://[fe80::1]",
            "http://[febf::1]",
            "http://[fec0::1]",
            "http://[ff02::1]",
            "http://[::ffff:10.0.0.1]",
            "http://[::ffff:7f00:2]",
            "http://[::ffff:192.168.0.1]",
            "http://[::10.0.0.1]",
            "http://[64:ff9b::a00:1]",
            "http://[2002:c0a8:1::]",
        ] {
            let reason = rejected(&p, raw);
            assert!(
                reason.contains("private or reserved") && reason.contains("trusted_custom_hosts"),
                "{raw}: {reason}"
            );
        }
        // Just outside the private ranges.
        for raw in [
            "http://172.15.255.255",
            "http://172.32.0.1",
            "http://192.169.0.1",
            "http://100.63.255.255",
            "http://100.128.0.1",
            "http://169.253.0.1",
            "http://223.255.255.255",
            "http://11.0.0.1",
            "http://[fbff::1]",
            "http://[fe7f::1]",
            "http://[2001:db8::1]",
        ] {
            ok(&p, raw);
        }
        assert_eq!(
            rejected(&p, "http://10.1.2.3"),
            "custom_host 10.1.2.3 is a private or reserved address; add it to \
             trusted_custom_hosts to allow it"
        );
    }

    #[test]
    fn reserved_names_need_trust() {
        let p = HostPolicy::with_trusted(["example.com"]).unwrap();
        for raw in [
            "http://localhost",
            "http://foo.localhost",
            "http://printer.local",
            "http://db.localdomain",
            "http://svc.internal",
            "http://host.docker.internal",
            "http://wiki.intranet",
            "http://nas.lan",
            "http://router.home",
            "http://git.corp",
            "http://x.test",
            "http://x.invalid",
            "http://x.onion",
        ] {
            assert!(rejected(&p, raw).contains("internal-only name"), "{raw}");
        }
        // Non-default policies drop the defaults, Portkey's env var semantics.
        assert!(rejected(&p, "http://127.0.0.1").contains("private"));
        assert!(rejected(&p, "http://[::1]").contains("private"));
        // Reserved TLDs match on label boundaries only.
        ok(&p, "http://mylocal");
        ok(&p, "http://example.testing");
    }

    #[test]
    fn wildcard_trust_for_cluster_services() {
        // Portkey issue #1587: in-cluster services were unreachable.
        let p = HostPolicy::with_trusted(["*.svc.cluster.local"]).unwrap();
        assert_eq!(
            ok(&p, "http://vllm.ai.svc.cluster.local:8000/v1/"),
            "http://vllm.ai.svc.cluster.local:8000/v1"
        );
        ok(&p, "http://a.svc.cluster.local");
        for raw in [
            "http://svc.cluster.local",
            "http://evilsvc.cluster.local",
            "http://svc.cluster.local.evil.local",
        ] {
            assert!(rejected(&p, raw).contains("internal-only"), "{raw}");
        }
    }

    #[test]
    fn exact_ip_and_cidr_trust() {
        let p = HostPolicy::with_trusted([
            " 10.0.0.0/8 ",
            "192.168.1.5",
            "[fd00::1]",
            "fe80::/10",
            "LocalHost",
            "Ollama.Internal",
        ])
        .unwrap();
        ok(&p, "http://10.1.2.3:8000");
        ok(&p, "http://[::ffff:10.9.9.9]");
        ok(&p, "http://192.168.1.5");
        assert!(rejected(&p, "http://192.168.1.6").contains("private"));
        ok(&p, "http://[fd00::1]");
        ok(&p, "http://[fd00:0::0:1]");
        assert!(rejected(&p, "http://[fd00::2]").contains("private"));
        ok(&p, "http://[fe80::abcd]");
        ok(&p, "http://localhost");
        ok(&p, "http://x.localhost");
        ok(&p, "http://ollama.internal:11434");
        assert!(rejected(&p, "http://other.internal").contains("internal-only"));
        assert!(rejected(&p, "http://127.0.0.1").contains("private"));
        // The 10/8 trust does not extend to the metadata block or other private ranges.
        assert!(rejected(&p, "http://172.16.0.1").contains("private"));
    }

    #[test]
    fn resolved_addresses_are_checked_after_dns() {
        let p = HostPolicy::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(p.allows_resolved("api.openai.com", ip("104.18.6.192")));
        assert!(
            !p.allows_resolved("evil.example", ip("169.254.169.254")),
            "metadata, never"
        );
        assert!(
            !p.allows_resolved("localhost", ip("169.254.169.254")),
            "even for a trusted name"
        );
        assert!(
            !p.allows_resolved("localtest.me", ip("10.0.0.5")),
            "a public name pointing inside"
        );
        assert!(
            p.allows_resolved("localtest.me", ip("127.0.0.1")),
            "127.0.0.1 is trusted by default"
        );
        assert!(p.allows_resolved("localhost", ip("::1")));
        let strict = HostPolicy::with_trusted(Vec::<String>::new()).unwrap();
        assert!(!strict.allows_resolved("runsc", ip("127.0.0.1")));
        assert!(
            !strict.allows_resolved("x", ip("::ffff:10.0.0.1")),
            "v4-mapped private"
        );
        let cluster = HostPolicy::with_trusted(["*.svc.cluster.local"]).unwrap();
        assert!(cluster.allows_resolved("vllm.ml.svc.cluster.local", ip("10.1.2.3")));
    }

    #[test]
    fn trust_list_validation() {
        for good in [
            vec!["localhost", "127.0.0.1", "::1", "host.docker.internal"],
            vec!["*.svc.cluster.local", "10.0.0.0/8", "fd00::/8", "[::1]", ""],
            vec!["a-b.example", "  "],
        ] {
            assert!(HostPolicy::with_trusted(good.clone()).is_ok(), "{good:?}");
        }
        assert!(HostPolicy::with_trusted(Vec::<String>::new()).is_ok());
        for bad in [
            "http://localhost",
            "localhost:8080",
            "*",
            "*.",
            "foo.*.com",
            "*example.com",
            "10.0.0.0/33",
            "10.0.0/8",
            "not a host",
            "exa_mple.com",
            "example.com.",
            "127.1",
            "2130706433",
            "0x7f000001",
            "bücher.de",
        ] {
            let err = HostPolicy::with_trusted(["localhost", bad]).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn rejection_messages_say_what_to_fix() {
        let p = HostPolicy::default();
        assert_eq!(
            rejected(&p, "ftp://example.com"),
            "custom_host must use http or https, not ftp:"
        );
        assert_eq!(
            rejected(&p, "http://169.254.169.254"),
            "custom_host 169.254.169.254 is a cloud metadata address and is never allowed"
        );
        assert_eq!(
            rejected(&p, "http://[fd00:ec2::254]"),
            "custom_host [fd00:ec2::254] is a cloud metadata address and is never allowed"
        );
        assert_eq!(
            HostRejection::new("x").to_string(),
            "x",
            "Display is the bare reason"
        );
    }

    proptest! {
        #[test]
        fn check_never_panics(s in "\\PC*") {
            let _ = HostPolicy::default().check(&s);
        }

        #[test]
        fn check_never_panics_on_url_like_input(
            scheme in "(https?|HTTP|ftp|)",
            sep in "(://|:|//|:///)",
            host in "[a-z0-9.:\\[\\]%@_-]{0,40}",
            tail in "[/a-z0-9.?#%:@]{0,20}",
        ) {
            let raw = format!("{scheme}{sep}{host}{tail}");
            if let Ok(url) = HostPolicy::default().check(&raw) {
                // Whatever passes is already normalised: checking it again is a fixed point.
                prop_assert_eq!(HostPolicy::default().check(&url), Ok(url.clone()));
            }
        }

        #[test]
        fn trust_list_never_panics(entries in proptest::collection::vec("\\PC{0,20}", 0..5)) {
            let _ = HostPolicy::with_trusted(entries);
        }
    }
}
