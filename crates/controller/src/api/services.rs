//! `GET /api/v1/endpoints[?namespace=NS]`: every Service with its ready endpoints (pod, node,
//! addresses, target ports), computed from the store as the nodes get them.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use weft_api::sync::ServiceState;

use super::ApiError;
use crate::state::{Command, Handle};

#[derive(Deserialize)]
pub(super) struct Filter {
    namespace: Option<String>,
}

pub(super) async fn endpoints(
    State(h): State<Handle>,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<ServiceState>>, ApiError> {
    let mut all = h.call(|reply| Command::Services { reply }).await?;
    if let Some(ns) = &filter.namespace {
        all.retain(|s| &s.namespace == ns);
    }
    Ok(Json(all))
}
