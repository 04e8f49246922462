//! Which responses are gzip-compressed.
//!
//! The official clients send gzip and accept it, so the service is built with gzip both ways.
//! But most answers are a few dozen bytes (an empty acknowledgement, an activity task), and
//! compressing those costs far more CPU than the bytes it saves: each gzip stream sets up a
//! fresh deflate state of several hundred KiB. Only answers of at least
//! [`COMPRESS_FROM_BYTES`] (long histories, list pages) are compressed; smaller ones go out as
//! they are, which every gRPC client accepts.

use prost::Message;
use tonic::Response;

/// Encoded size from which a response is gzip-compressed.
pub(crate) const COMPRESS_FROM_BYTES: usize = 16 * 1024;

/// A unary response, compressed only if it is big enough to be worth it.
pub(crate) fn reply<T: Message>(message: T) -> Response<T> {
    let small = message.encoded_len() < COMPRESS_FROM_BYTES;
    let mut response = Response::new(message);
    if small {
        response.disable_compression();
    }
    response
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::{
        common::v1::{Payload, Payloads},
        workflowservice::v1::{QueryWorkflowResponse, RespondActivityTaskCompletedResponse},
    };
    use tonic::codec::SingleMessageCompressionOverride;

    use super::*;

    fn compression_disabled<T>(response: &Response<T>) -> bool {
        response
            .extensions()
            .get::<SingleMessageCompressionOverride>()
            == Some(&SingleMessageCompressionOverride::Disable)
    }

    #[test]
    fn small_answers_are_sent_uncompressed() {
        assert!(compression_disabled(&reply(
            RespondActivityTaskCompletedResponse::default()
        )));
    }

    #[test]
    fn big_answers_keep_compression() {
        let payloads = Payloads {
            payloads: vec![Payload {
                data: vec![7; COMPRESS_FROM_BYTES],
                ..Default::default()
            }],
        };
        let big = QueryWorkflowResponse {
            query_result: Some(payloads),
            ..Default::default()
        };
        assert!(!compression_disabled(&reply(big)));
    }
}
