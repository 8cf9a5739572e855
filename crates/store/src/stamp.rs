//! Server-managed metadata: what the store sets on every write, whatever the client sent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use weft_api::k8s_openapi;
use weft_api::{ObjectMeta, Resource};

/// Stamps a new object: uid, creation time, generation 1, the revision.
pub(crate) fn created(resource: &mut Resource, revision: u64) {
    let meta = resource.meta_mut();
    meta.uid = Some(uuid::Uuid::new_v4().to_string());
    meta.creation_timestamp = Some(Time(now_seconds()));
    meta.generation = Some(1);
    meta.resource_version = Some(revision.to_string());
    clear_unsupported(meta);
}

/// Stamps a replacement: identity kept from the stored object; generation bumped when the spec
/// changed, as the API server does.
pub(crate) fn updated(resource: &mut Resource, old: &Resource, revision: u64) {
    let spec_changed = spec_of(resource) != spec_of(old);
    let old_meta = old.meta();
    let generation = old_meta.generation.unwrap_or(1) + i64::from(spec_changed);
    let meta = resource.meta_mut();
    meta.uid.clone_from(&old_meta.uid);
    meta.creation_timestamp.clone_from(&old_meta.creation_timestamp);
    meta.generation = Some(generation);
    meta.resource_version = Some(revision.to_string());
    clear_unsupported(meta);
}

/// True when the write would change nothing a user wrote (spec, labels, annotations, status),
/// so that applying the same manifest twice is a no-op without a new revision.
pub(crate) fn unchanged(new: &Resource, old: &Resource) -> bool {
    let mut a = new.to_value();
    let mut b = old.to_value();
    for v in [&mut a, &mut b] {
        if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            for field in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "managedFields",
            ] {
                meta.remove(field);
            }
        }
    }
    a == b
}

fn spec_of(resource: &Resource) -> serde_json::Value {
    resource.to_value().get("spec").cloned().unwrap_or_default()
}

/// Fields of the API server that Weft does not implement are not stored, so that nobody relies
/// on them doing something.
fn clear_unsupported(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    meta.self_link = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
}

/// Kubernetes timestamps have whole seconds on the wire; keep the same in memory so that an
/// object read back equals the one written.
pub(crate) fn now_seconds() -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}
