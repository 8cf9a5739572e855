use axum::Json;
use axum::extract::{Path, State};
use weft_api::wire::{AllocationInfo, PodAddresses, PoolInfo, ReleaseRequest, Released};

use super::ApiError;
use crate::state::{Command, Handle};

pub(super) async fn pools(State(h): State<Handle>) -> Result<Json<Vec<PoolInfo>>, ApiError> {
    Ok(Json(h.call(|reply| Command::Pools { reply }).await?))
}

pub(super) async fn allocations(State(h): State<Handle>) -> Result<Json<Vec<AllocationInfo>>, ApiError> {
    Ok(Json(h.call(|reply| Command::Allocations { reply }).await?))
}

/// Addresses for a pod, from its namespace's network; idempotent.
pub(super) async fn allocate_pod(
    State(h): State<Handle>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<PodAddresses>, ApiError> {
    Ok(Json(
        h.call(|reply| Command::AllocatePod { namespace, name, reply }).await?,
    ))
}

pub(super) async fn release(
    State(h): State<Handle>,
    Json(req): Json<ReleaseRequest>,
) -> Result<Json<Released>, ApiError> {
    let released = h
        .call(|reply| Command::Release {
            owner: req.owner,
            reply,
        })
        .await?;
    Ok(Json(Released { released }))
}

pub(super) async fn collect_garbage(State(h): State<Handle>) -> Result<Json<Released>, ApiError> {
    let released = h.call(|reply| Command::CollectGarbage { reply }).await?;
    Ok(Json(Released { released }))
}
