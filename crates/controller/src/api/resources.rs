use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use weft_api::wire::{ApplyResult, List, ListMeta, Reason, VersionInfo};
use weft_api::{Kind, ManifestError, Resource, ResourceKey, manifest};
use weft_store::Precondition;

use super::ApiError;
use super::watch;
use crate::ControllerError;
use crate::state::{Command, Handle};

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Params {
    namespace: Option<String>,
    #[serde(default)]
    watch: bool,
    resource_version: Option<String>,
    #[serde(default)]
    create: bool,
}

fn kind(plural: &str) -> Result<Kind, ApiError> {
    plural
        .parse()
        .map_err(|e: weft_api::UnknownKind| ApiError::new(Reason::NotFound, e.to_string()))
}

fn revision(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            Reason::BadRequest,
            format!("resourceVersion {text:?} is not a revision; use the resourceVersion of a list or an object"),
        )
    })
}

/// Decodes and validates a request body as one object.
fn object(body: serde_json::Value) -> Result<Resource, ApiError> {
    manifest::from_value(body).map_err(|e| match e {
        ManifestError::Invalid { object, errors } => ControllerError::Invalid { object, causes: errors }.into(),
        ManifestError::Syntax { location, message } => {
            ApiError::new(Reason::BadRequest, format!("{location}: {message}"))
        }
    })
}

pub(super) async fn version(State(h): State<Handle>) -> Result<Json<VersionInfo>, ApiError> {
    let revision = h.call(|reply| Command::Revision { reply }).await?;
    Ok(Json(VersionInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        revision,
    }))
}

/// Create or update (`kubectl apply`); `?create=true` only creates.
pub(super) async fn apply(
    State(h): State<Handle>,
    Query(p): Query<Params>,
    Json(body): Json<serde_json::Value>,
) -> Result<Json<ApplyResult>, ApiError> {
    let resource = object(body)?;
    let precondition = if p.create {
        Precondition::Absent
    } else {
        Precondition::Any
    };
    let (outcome, stored) = h
        .call(|reply| Command::Apply {
            resource: Box::new(resource),
            precondition,
            reply,
        })
        .await?;
    Ok(Json(ApplyResult {
        outcome,
        object: stored.to_value(),
    }))
}

/// Replace an existing object (`kubectl replace`); the body must name the object of the path.
pub(super) async fn replace(
    State(h): State<Handle>,
    Path((plural, name)): Path<(String, String)>,
    Query(p): Query<Params>,
    Json(body): Json<serde_json::Value>,
) -> Result<Json<ApplyResult>, ApiError> {
    let key = ResourceKey::new(kind(&plural)?, p.namespace.as_deref(), &name);
    let resource = object(body)?;
    if resource.key() != key {
        return Err(ApiError::new(
            Reason::BadRequest,
            format!("the body is {}, the path names {key}", resource.key()),
        ));
    }
    let (outcome, stored) = h
        .call(|reply| Command::Apply {
            resource: Box::new(resource),
            precondition: Precondition::Present,
            reply,
        })
        .await?;
    Ok(Json(ApplyResult {
        outcome,
        object: stored.to_value(),
    }))
}

pub(super) async fn get(
    State(h): State<Handle>,
    Path((plural, name)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = ResourceKey::new(kind(&plural)?, p.namespace.as_deref(), &name);
    let found = h.call(|reply| Command::Get { key, reply }).await?;
    Ok(Json(found.to_value()))
}

pub(super) async fn delete(
    State(h): State<Handle>,
    Path((plural, name)): Path<(String, String)>,
    Query(p): Query<Params>,
) -> Result<Json<ApplyResult>, ApiError> {
    let key = ResourceKey::new(kind(&plural)?, p.namespace.as_deref(), &name);
    let resource_version = p.resource_version;
    let deleted = h
        .call(|reply| Command::Delete {
            key,
            resource_version,
            reply,
        })
        .await?;
    Ok(Json(ApplyResult {
        outcome: weft_api::wire::Outcome::Deleted,
        object: deleted.to_value(),
    }))
}

/// A list (with the revision it was read at), or with `?watch=true` a stream of changes.
pub(super) async fn list_or_watch(
    State(h): State<Handle>,
    Path(plural): Path<String>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let kind = kind(&plural)?;
    let namespace = p.namespace.filter(|_| kind.namespaced());
    if p.watch {
        let since = p
            .resource_version
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(revision)
            .transpose()?;
        return watch::stream(h, kind, namespace, since).await;
    }
    let (revision, items) = h.call(|reply| Command::List { kind, namespace, reply }).await?;
    Ok(Json(List {
        api_version: "v1".into(),
        kind: "List".into(),
        metadata: ListMeta {
            resource_version: revision.to_string(),
        },
        items: items.iter().map(Resource::to_value).collect(),
    })
    .into_response())
}
