//! Admin API errors and their one wire envelope (doc §8.2): `error.message`, `error.code = ABxx`.

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, StatusCode};
use portcullis_control::repo::RepoError;
use serde_json::{Value, json};

/// Stops the Python SDK retrying a failed non-idempotent call (doc §8.1).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-portkey-request-id");

/// An admin API failure: status, Portkey's `AB..` code and a message that says what to fix.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, when one is.
    pub param: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }

    /// 400 AB01: the request is malformed or violates a rule.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "AB01", message)
    }

    /// 400 AB01 naming the field.
    pub fn field(param: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param.to_owned()),
            ..ApiError::invalid(message)
        }
    }

    /// 401 AB05.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "AB05", message)
    }

    /// 403 AB03.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "AB03", message)
    }

    /// 404 AB08, e.g. `not_found("config", "pc-abc")`.
    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "AB08",
            format!("{what} {id} not found"),
        )
    }

    /// 409 AB07.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "AB07", message)
    }

    /// 413: the body is over the admin API's limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "AB01",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// 500 AB04. The cause is logged, never sent.
    pub fn internal(cause: &str) -> ApiError {
        tracing::error!(cause, "admin API internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AB04",
            "Internal Server Error",
        )
    }

    fn error_type(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            405 => "method_not_allowed_error",
            409 => "conflict_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            500.. => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// The merged envelope every reader understands (doc §8.2).
    pub fn body(&self) -> Value {
        json!({
            "success": false,
            "status_code": self.status.as_u16(),
            "error": {
                "message": self.message,
                "type": self.error_type(),
                "code": self.code,
                "param": self.param,
            },
            "data": { "message": self.message },
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> ApiError {
        match e {
            RepoError::NotFound(what) => {
                ApiError::new(StatusCode::NOT_FOUND, "AB08", format!("{what} not found"))
            }
            RepoError::Conflict(m) => ApiError::conflict(m),
            RepoError::Invalid(m) => ApiError::invalid(m),
            RepoError::Backend(m) => ApiError::internal(&m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body().to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status.is_server_error()
            && let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        {
            headers.insert(REQUEST_ID, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_every_readers_fields() {
        let e = ApiError::conflict("Resource already exists");
        assert_eq!(
            e.body(),
            json!({ "success": false, "status_code": 409,
              "error": { "message": "Resource already exists", "type": "conflict_error", "code": "AB07", "param": null },
              "data": { "message": "Resource already exists" } })
        );
        let e = ApiError::field("name", "name is required");
        assert_eq!(e.body()["error"]["param"], "name");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn repo_errors_map_to_codes() {
        let e: ApiError = RepoError::NotFound("config pc-x".into()).into();
        assert_eq!((e.status.as_u16(), e.code), (404, "AB08"));
        assert_eq!(e.message, "config pc-x not found");
        let e: ApiError = RepoError::Backend("disk on fire at /var/db".into()).into();
        assert_eq!((e.status.as_u16(), e.code), (500, "AB04"));
        assert!(!e.message.contains("disk"), "backend detail is not sent");
    }

    #[test]
    fn server_errors_carry_a_request_id() {
        let r = ApiError::internal("x").into_response();
        assert!(r.headers().contains_key(REQUEST_ID));
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let r = ApiError::invalid("x").into_response();
        assert!(!r.headers().contains_key(REQUEST_ID));
    }
}
