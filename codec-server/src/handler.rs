//! One request, start to finish: route, CORS, authenticate, rate-limit, authorize, read and
//! parse the body within limits, run the codec, and write the audit line before answering.
//!
//! The order is deliberate: nothing about a request is read (not even its body) before the
//! caller is authenticated and authorized; a request that fails a check gets a short plain-text
//! answer in our own words and the codec never runs.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use lockstep_policy::{Policy, Role};

use crate::{
    audit::{AuditLog, AuditRecord, AuthMethod},
    codec::{Codec, key_ids},
    config::LimitsConfig,
    cors::{Cors, Origin, add_vary},
    jwt::{TokenVerifier, VerifiedToken},
    rate_limit::RateLimiter,
    wire,
};

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest namespace accepted in `X-Namespace`, in bytes.
const MAX_NAMESPACE_BYTES: usize = 255;
/// Longest codec error message passed on, in characters (it may quote a key id).
const MAX_CODEC_MESSAGE_CHARS: usize = 300;
/// The namespace header of the remote-codec protocol.
const X_NAMESPACE: &str = "x-namespace";

/// What every request needs, shared by all connections.
pub(crate) struct AppState {
    pub(crate) policy: Policy,
    pub(crate) verifier: Option<TokenVerifier>,
    pub(crate) limiter: RateLimiter,
    pub(crate) cors: Cors,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) codec: Arc<dyn Codec>,
    pub(crate) limits: LimitsConfig,
}

/// What the connection knows about the client.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// The client's address.
    pub(crate) remote: SocketAddr,
    /// The principal of a verified client certificate, if one was presented.
    pub(crate) cert_principal: Option<String>,
}

/// The two codec endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Encode,
    Decode,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Encode => "encode",
            Endpoint::Decode => "decode",
        }
    }

    fn role(self) -> Role {
        match self {
            Endpoint::Encode => Role::Client,
            Endpoint::Decode => Role::Reader,
        }
    }
}

/// A refused request: the status, a word for the audit log, and a message in our own words
/// (sent to the client and audited; never quoting the request).
struct Refusal {
    status: StatusCode,
    outcome: &'static str,
    message: String,
    headers: Vec<(header::HeaderName, &'static str)>,
}

impl Refusal {
    fn new(status: StatusCode, outcome: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            outcome,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }
}

/// Serves one request. Never fails: every problem is an HTTP answer.
pub(crate) async fn handle(
    state: Arc<AppState>,
    peer: Peer,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = request.uri().path().to_owned();
    if path == "/health" || path == "/healthz" {
        // Probes are not audited: they carry no identity and touch no key.
        return Ok(health(request.method()));
    }
    let mut record = AuditRecord::new(peer.remote, &path);
    let endpoint = match path.rsplit('/').next() {
        Some("decode") => Endpoint::Decode,
        Some("encode") => Endpoint::Encode,
        _ => {
            let refusal = Refusal::new(StatusCode::NOT_FOUND, "not_found", "not found");
            return Ok(finish(&state, record, Err(refusal), None).await);
        }
    };
    record.endpoint = endpoint.name();
    let origin = state.cors.origin(request.headers());
    let outcome = match &origin {
        Origin::Refused => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "origin_refused",
            "this origin may not call the codec server",
        )),
        Origin::Allowed(_) | Origin::Absent if request.method() == Method::OPTIONS => {
            record.endpoint = "preflight";
            Ok(Response::new(Full::default()))
        }
        _ if request.method() != Method::POST => Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST",
        )
        .with_header(header::ALLOW, "POST, OPTIONS")),
        _ => codec_request(&state, &peer, endpoint, request, &mut record).await,
    };
    let allowed = match origin {
        Origin::Allowed(value) => Some(value),
        _ => None,
    };
    Ok(finish(&state, record, outcome, allowed).await)
}

/// Authenticates, authorizes and runs the codec.
async fn codec_request(
    state: &AppState,
    peer: &Peer,
    endpoint: Endpoint,
    request: Request<Incoming>,
    record: &mut AuditRecord,
) -> Result<Response<Full<Bytes>>, Refusal> {
    let (parts, body) = request.into_parts();
    // Recorded before authentication, so refusals say which namespace was tried.
    let namespace = namespace(&parts.headers);
    if let Ok(namespace) = &namespace {
        record.set_namespace(namespace);
    }
    let (principal, token) = authenticate(state, peer, &parts.headers, record)?;
    record.principal = Some(principal.clone());
    if !state.limiter.try_acquire(&principal, Instant::now()) {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        )
        .with_header(header::RETRY_AFTER, "1"));
    }
    let namespace = namespace?;
    if token.as_ref().is_some_and(|t| !t.covers(&namespace)) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the token is not valid for namespace {namespace:?}"),
        ));
    }
    let role = endpoint.role();
    if !state.policy.allows(&principal, &namespace, role) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{principal} may not {} in namespace {namespace:?}: it needs the {role} role",
                endpoint.name()
            ),
        ));
    }

    let body = read_body(body, &parts.headers, state.limits.max_body_bytes).await?;
    let payloads = wire::parse_payloads(&body)
        .map_err(|err| Refusal::new(StatusCode::BAD_REQUEST, "bad_request", err.to_string()))?;
    let count = payloads.len();
    record.payloads = Some(count);
    if count > state.limits.max_payloads {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_payloads",
            format!(
                "{count} payloads; at most {} per request",
                state.limits.max_payloads
            ),
        ));
    }
    if endpoint == Endpoint::Decode {
        record.key_ids = key_ids(&payloads);
    }

    let codec = state.codec.clone();
    let ns = namespace.clone();
    let result = tokio::task::spawn_blocking(move || match endpoint {
        Endpoint::Encode => codec.encode(&ns, payloads),
        Endpoint::Decode => codec.decode(&ns, payloads),
    })
    .await;
    let output = match result {
        Ok(Ok(output)) => output,
        Ok(Err(message)) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "codec_error",
                format!(
                    "cannot {}: {}",
                    endpoint.name(),
                    message
                        .chars()
                        .take(MAX_CODEC_MESSAGE_CHARS)
                        .collect::<String>()
                ),
            ));
        }
        Err(_) => {
            tracing::error!(namespace, "the codec panicked");
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ));
        }
    };
    if output.len() != count {
        // Clients reject a count mismatch; never send one.
        tracing::error!(
            namespace,
            count,
            returned = output.len(),
            "codec changed the payload count"
        );
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        ));
    }
    if endpoint == Endpoint::Encode {
        record.key_ids = key_ids(&output);
    }
    let mut response = Response::new(Full::new(Bytes::from(wire::write_payloads(&output))));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Decoded payloads are plaintext: no cache may keep them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The principal: from a bearer token when one is sent (an invalid token is refused, never
/// replaced by the certificate), else from the client certificate.
fn authenticate(
    state: &AppState,
    peer: &Peer,
    headers: &HeaderMap,
    record: &mut AuditRecord,
) -> Result<(String, Option<VerifiedToken>), Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return match &peer.cert_principal {
            Some(principal) => {
                record.auth = Some(AuthMethod::Mtls);
                Ok((principal.clone(), None))
            }
            None => Err(Refusal::unauthenticated(
                "credentials required: a client certificate or Authorization: Bearer <token>",
            )),
        };
    };
    record.auth = Some(AuthMethod::Bearer);
    if values.next().is_some() {
        return Err(Refusal::unauthenticated(
            "more than one Authorization header",
        ));
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| Refusal::unauthenticated("use Authorization: Bearer <token>"))?;
    let verifier = state
        .verifier
        .as_ref()
        .ok_or_else(|| Refusal::unauthenticated("bearer tokens are not accepted by this server"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let verified = verifier
        .verify(token, now)
        .map_err(|err| Refusal::unauthenticated(err.to_string()))?;
    Ok((verified.subject.clone(), Some(verified)))
}

/// The `X-Namespace` value: exactly one, non-empty, printable, at most 255 bytes.
fn namespace(headers: &HeaderMap) -> Result<String, Refusal> {
    let bad = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "send exactly one X-Namespace header naming the namespace",
        )
    };
    let mut values = headers.get_all(X_NAMESPACE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(bad());
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text.is_empty() || text.len() > MAX_NAMESPACE_BYTES || text.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok(text.to_owned())
}

/// Reads the body, refusing more than `max` bytes (413) and slow senders.
async fn read_body(body: Incoming, headers: &HeaderMap, max: usize) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body could not be read",
        )),
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the body took too long to arrive",
        )),
    }
}

/// Writes the audit line, then builds the answer. A successful codec answer is withheld (503)
/// when its audit line cannot be written: nobody decodes unrecorded.
async fn finish(
    state: &AppState,
    mut record: AuditRecord,
    outcome: Result<Response<Full<Bytes>>, Refusal>,
    allowed_origin: Option<HeaderValue>,
) -> Response<Full<Bytes>> {
    let mut response = match outcome {
        Ok(response) => {
            record.status = response.status().as_u16();
            record.outcome = if record.endpoint == "preflight" {
                "preflight"
            } else {
                "ok"
            };
            response
        }
        Err(refusal) => {
            record.status = refusal.status.as_u16();
            record.outcome = refusal.outcome;
            let mut response = text_response(refusal.status, &refusal.message, HeaderMap::new());
            for (name, value) in refusal.headers {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            record.reason = Some(refusal.message);
            response
        }
    };
    tracing::info!(
        remote = %record.remote,
        principal = record.principal.as_deref().unwrap_or("-"),
        namespace = record.namespace.as_deref().unwrap_or("-"),
        endpoint = record.endpoint,
        payloads = record.payloads.unwrap_or(0),
        status = record.status,
        outcome = record.outcome,
        "codec request"
    );
    let preflight = record.endpoint == "preflight";
    let succeeded = record.outcome == "ok";
    let audit = state.audit.clone();
    let written = tokio::task::spawn_blocking(move || audit.append(&record)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!("cannot write the audit log");
        if succeeded {
            response = text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written; try again later",
                HeaderMap::new(),
            );
        }
    }
    let headers = response.headers_mut();
    add_vary(headers);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    match allowed_origin {
        Some(origin) if preflight => {
            *response.status_mut() = StatusCode::NO_CONTENT;
            Cors::preflight_headers(&origin, response.headers_mut());
        }
        Some(origin) => Cors::response_headers(&origin, response.headers_mut()),
        None if preflight => {
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
        }
        None => {}
    }
    response
}

fn health(method: &Method) -> Response<Full<Bytes>> {
    if method == Method::GET || method == Method::HEAD {
        text_response(StatusCode::OK, "ok", HeaderMap::new())
    } else {
        let mut headers = HeaderMap::new();
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET", headers)
    }
}

fn text_response(status: StatusCode, message: &str, headers: HeaderMap) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.extend(headers);
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
