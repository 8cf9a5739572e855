use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use weft_api::wire::{BgpPeerInfo, BgpRouteInfo, Reason};

use super::ApiError;
use crate::bgp::{BgpView, parse_family};

fn not_running() -> ApiError {
    ApiError::new(
        Reason::ServiceUnavailable,
        "the BGP speaker is not running: start the controller with --bgp and apply a Cluster with spec.asn and spec.routerId",
    )
}

pub(super) async fn peers(State(view): State<BgpView>) -> Result<Json<Vec<BgpPeerInfo>>, ApiError> {
    view.peers().await.map(Json).ok_or_else(not_running)
}

/// `?family=l2vpn-evpn` (the BGPPeer spelling); all families without it. `?paths=all`: every
/// path, not only the best ones.
pub(super) async fn routes(
    State(view): State<BgpView>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<BgpRouteInfo>>, ApiError> {
    let family = match query.get("family") {
        Some(name) => Some(parse_family(name).ok_or_else(|| {
            ApiError::new(
                Reason::BadRequest,
                format!(
                    "unknown family {name:?}: one of {}",
                    weft_api::bgp_peer::FAMILIES.join(", ")
                ),
            )
        })?),
        None => None,
    };
    let all_paths = match query.get("paths").map(String::as_str) {
        None | Some("best") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::new(
                Reason::BadRequest,
                format!("paths={other:?}: write paths=all (every path) or paths=best (the default)"),
            ));
        }
    };
    view.routes(family, all_paths).await.map(Json).ok_or_else(not_running)
}
