//! CORS for the Temporal web UI, which calls the codec server from the browser with the user's
//! token (and possibly `credentials: 'include'`): an explicit allowlist of origins, never `*`.
//!
//! A request whose `Origin` is not on the list gets no `Access-Control-Allow-Origin`, and is
//! refused outright (403): the browser would hide the answer anyway, and refusing keeps a foreign
//! page from making the server decrypt with the browser's client certificate. Requests without
//! `Origin` (the `temporal` CLI, workers) are not cross-origin and pass.

use http::{HeaderMap, HeaderValue, header};

/// Methods a preflight may ask for.
const ALLOW_METHODS: &str = "POST, OPTIONS";
/// Request headers the web UI and the `temporal` CLI send.
const ALLOW_HEADERS: &str = "Authorization, Authorization-Extras, X-Namespace, Content-Type";
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE_SECS: &str = "600";

/// What the `Origin` header of a request says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// No `Origin` header: not a cross-origin browser request.
    Absent,
    /// An origin on the allowlist (its header value, to echo).
    Allowed(HeaderValue),
    /// Any other origin, or an unreadable header.
    Refused,
}

/// The configured allowlist.
pub(crate) struct Cors {
    allowed: Vec<String>,
}

impl Cors {
    /// An allowlist of validated origins (see [`validate_origin`]).
    pub(crate) fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed.iter().map(|o| o.to_ascii_lowercase()).collect(),
        }
    }

    /// Classifies the request's `Origin`.
    pub(crate) fn origin(&self, headers: &HeaderMap) -> Origin {
        let mut values = headers.get_all(header::ORIGIN).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return if headers.contains_key(header::ORIGIN) {
                Origin::Refused
            } else {
                Origin::Absent
            };
        };
        match value.to_str() {
            Ok(text) if self.allowed.iter().any(|a| a.eq_ignore_ascii_case(text)) => {
                Origin::Allowed(value.clone())
            }
            _ => Origin::Refused,
        }
    }

    /// Headers for an actual (non-preflight) response to an allowed origin.
    pub(crate) fn response_headers(origin: &HeaderValue, headers: &mut HeaderMap) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }

    /// Headers for a preflight answer to an allowed origin.
    pub(crate) fn preflight_headers(origin: &HeaderValue, headers: &mut HeaderMap) {
        Self::response_headers(origin, headers);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECS),
        );
    }
}

/// Every response that depends on `Origin` says so, so caches keep answers apart.
pub(crate) fn add_vary(headers: &mut HeaderMap) {
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// Checks that `origin` is a serialized origin, `scheme://host[:port]`, as browsers send it.
pub(crate) fn validate_origin(origin: &str) -> Result<(), String> {
    const SHAPE: &str = "an origin is scheme://host[:port], without path, query or trailing '/'";
    if origin == "*" {
        return Err(
            "`*` cannot be used: the web UI sends credentials, and browsers refuse \
                    credentials with a wildcard origin; list each origin"
                .into(),
        );
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or("an origin starts with https:// or http://")?;
    let (host_ok, port) = match rest.strip_prefix('[') {
        // An IPv6 literal: [address] then an optional :port.
        Some(v6) => {
            let (address, after) = v6.split_once(']').ok_or(SHAPE)?;
            let ok =
                !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(SHAPE)?),
            };
            (ok, port)
        }
        None => {
            let (host, port) = match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            };
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            (ok, port)
        }
    };
    if !host_ok {
        return Err(SHAPE.into());
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err("the port is not a number from 0 to 65535".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_validated() {
        for good in [
            "https://ui.example.com",
            "http://localhost:8233",
            "https://[::1]:8443",
        ] {
            assert_eq!(validate_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "*",
            "ui.example.com",
            "https://ui.example.com/",
            "https://a/b",
            "https://a:x",
            "https://",
            "null",
        ] {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let cors = Cors::new(&["https://UI.example.com".to_owned()]);
        let mut headers = HeaderMap::new();
        assert_eq!(cors.origin(&headers), Origin::Absent);
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://ui.example.com"),
        );
        assert!(matches!(cors.origin(&headers), Origin::Allowed(_)));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example.com"),
        );
        assert_eq!(cors.origin(&headers), Origin::Refused);
        headers.append(
            header::ORIGIN,
            HeaderValue::from_static("https://ui.example.com"),
        );
        assert_eq!(cors.origin(&headers), Origin::Refused, "two Origin headers");
    }
}
