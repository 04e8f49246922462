//! The one tower layer that authorizes every RPC from its method and the request's namespace
//! before any handler (or message decoder) runs. Denials are PermissionDenied naming the
//! principal, the namespace and the missing role, and are logged — never with payloads.

use std::{
    io::Read,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use tonic::{Status, body::Body};
use tower::{Layer, Service};

use super::{
    Peer, Policy,
    namespace_field::{namespace_field, operator_namespace_field, read_string_field},
    permissions::{Requirement, operator_requirement, requirement},
};

const WORKFLOW_SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";
const OPERATOR_SERVICE: &str = "temporal.api.operatorservice.v1.OperatorService";
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
/// gRPC message prefix: compressed flag (1 byte) and length (4 bytes, big-endian).
const FRAME_HEADER: usize = 5;

/// The namespace an authorized request acts on, for handlers that want it without decoding.
#[derive(Clone, Debug)]
pub struct AuthorizedNamespace(pub Arc<str>);

/// Authorizes every request against the policy.
#[derive(Clone)]
pub struct AuthLayer {
    policy: Arc<Policy>,
    max_message_bytes: usize,
}

impl AuthLayer {
    /// A layer enforcing `policy`; requests larger than `max_message_bytes` are refused.
    pub fn new(policy: Arc<Policy>, max_message_bytes: usize) -> Self {
        Self {
            policy,
            max_message_bytes,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service produced by [`AuthLayer`].
#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Service<http::Request<Body>> for Authorize<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone is not ready; keep the ready one for this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.authorize(request).await {
                Ok(request) => inner.call(request).await,
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

impl AuthLayer {
    async fn authorize(&self, request: http::Request<Body>) -> Result<http::Request<Body>, Status> {
        let peer = request
            .extensions()
            .get::<Peer>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("no verified client certificate"))?;
        let principal = peer.principal();
        let path = request.uri().path().to_owned();
        let (service, method) = split_path(&path);
        if service == HEALTH_SERVICE {
            return Ok(request);
        }
        let (requirement, field) = match service {
            WORKFLOW_SERVICE => (requirement(method), namespace_field(method)),
            OPERATOR_SERVICE => (
                operator_requirement(method),
                operator_namespace_field(method),
            ),
            // Other services (none is served but health) only need a known principal.
            _ => (Requirement::KnownPrincipal, None),
        };
        if requirement == Requirement::KnownPrincipal {
            return if self.policy.knows(principal) {
                Ok(request)
            } else {
                Err(self.deny(principal, None, method, "any role"))
            };
        }
        let Some(field) = field else {
            // A namespace-less method that needs a role: only global administrators.
            return if self.policy.is_global_admin(principal) {
                Ok(request)
            } else {
                Err(self.deny(principal, None, method, "admin on all namespaces (\"*\")"))
            };
        };
        let (mut request, message) = self.read_message(request).await?;
        let namespace = read_string_field(&message, field)
            .map_err(|err| Status::invalid_argument(format!("{method}: {err}")))?;
        if namespace.is_empty() {
            return Err(Status::invalid_argument(format!(
                "{method}: the request names no namespace; set `namespace`"
            )));
        }
        let allowed = match requirement {
            Requirement::Role(role) => self.policy.allows(principal, &namespace, role),
            Requirement::AnyRoleInNamespace => self.policy.has_any_role(principal, &namespace),
            Requirement::KnownPrincipal => self.policy.knows(principal),
        };
        if !allowed {
            let needed = match requirement {
                Requirement::Role(role) => role.as_str(),
                _ => "any role",
            };
            return Err(self.deny(principal, Some(&namespace), method, needed));
        }
        request
            .extensions_mut()
            .insert(AuthorizedNamespace(Arc::from(namespace)));
        Ok(request)
    }

    fn deny(&self, principal: &str, namespace: Option<&str>, method: &str, needed: &str) -> Status {
        tracing::warn!(principal, namespace, method, needed, "permission denied");
        let scope = match namespace {
            Some(ns) => format!(" in namespace {ns:?}"),
            None => String::new(),
        };
        Status::permission_denied(format!(
            "principal {principal:?} lacks role {needed}{scope}, required by {method}"
        ))
    }

    /// Buffers the single message of a unary request and hands back a request carrying the
    /// same message uncompressed (so it is decompressed only once).
    async fn read_message(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::Request<Body>, Bytes), Status> {
        let (mut parts, body) = request.into_parts();
        let limit = self.max_message_bytes + FRAME_HEADER;
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|err| {
                if err.is::<http_body_util::LengthLimitError>() {
                    too_large(self.max_message_bytes)
                } else {
                    Status::cancelled(format!("reading the request failed: {err}"))
                }
            })?
            .to_bytes();
        if body.len() < FRAME_HEADER {
            return Err(Status::invalid_argument(
                "request body is not a gRPC message",
            ));
        }
        let compressed = body[0] == 1;
        let declared = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        if body.len() != FRAME_HEADER + declared {
            return Err(Status::invalid_argument(
                "request body must hold exactly one gRPC message",
            ));
        }
        let mut message = body.slice(FRAME_HEADER..);
        if compressed {
            let encoding = parts.headers.get("grpc-encoding").map(|v| v.as_bytes());
            if encoding != Some(b"gzip") {
                return Err(Status::unimplemented(
                    "compressed requests must use grpc-encoding gzip",
                ));
            }
            message = gunzip(&message, self.max_message_bytes)?;
            parts.headers.remove("grpc-encoding");
        }
        let mut framed = BytesMut::with_capacity(FRAME_HEADER + message.len());
        framed.put_u8(0);
        framed
            .put_u32(u32::try_from(message.len()).map_err(|_| too_large(self.max_message_bytes))?);
        framed.extend_from_slice(&message);
        let body = Body::new(Full::new(framed.freeze()).map_err(|never| match never {}));
        Ok((http::Request::from_parts(parts, body), message))
    }
}

fn gunzip(compressed: &[u8], max: usize) -> Result<Bytes, Status> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|err| Status::invalid_argument(format!("request is not valid gzip: {err}")))?;
    if out.len() > max {
        return Err(too_large(max));
    }
    Ok(Bytes::from(out))
}

fn too_large(max: usize) -> Status {
    Status::resource_exhausted(format!("request larger than the {max}-byte limit"))
}

fn split_path(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}
