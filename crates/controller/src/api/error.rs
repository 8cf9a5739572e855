use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_api::wire::Status;

use crate::ControllerError;

/// A failed request: the Kubernetes-shaped Status body with its HTTP code.
pub struct ApiError(pub Box<Status>);

impl ApiError {
    pub fn new(reason: weft_api::wire::Reason, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(Status::failure(reason, message)))
    }
}

impl From<ControllerError> for ApiError {
    fn from(e: ControllerError) -> ApiError {
        ApiError(Box::new(e.status()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, Json(*self.0)).into_response()
    }
}
