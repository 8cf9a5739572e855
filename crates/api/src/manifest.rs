//! Reading and writing manifests: multi-document YAML or JSON, `kind: List`, typed decoding with
//! the failing field's path, unknown fields reported rather than silently dropped.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{FieldError, Kind, ManifestError, Resource, validate};

/// Parses every object in a YAML or JSON text (documents separated by `---`, or a `List`), and
/// validates each. `source` names the text in errors (a file name, `-` for stdin).
pub fn parse(text: &str, source: &str) -> Result<Vec<Resource>, ManifestError> {
    let mut out = Vec::new();
    for value in documents(text, source)? {
        out.push(from_value(value)?);
    }
    Ok(out)
}

/// Splits a text into its objects as JSON values, flattening `kind: List`; empty documents are
/// skipped, as kubectl does.
pub fn documents(text: &str, source: &str) -> Result<Vec<Value>, ManifestError> {
    let mut out = Vec::new();
    for (index, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| ManifestError::Syntax {
            location: format!("{source} (document {})", index + 1),
            message: e.to_string(),
        })?;
        flatten(value, &mut out);
    }
    Ok(out)
}

fn flatten(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Null => {}
        Value::Object(mut map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
            if let Some(Value::Array(items)) = map.remove("items") {
                for item in items {
                    flatten(item, out);
                }
            }
        }
        other => out.push(other),
    }
}

/// Decodes and validates one object.
pub fn from_value(value: Value) -> Result<Resource, ManifestError> {
    let resource = decode(value)?;
    let errors = validate::validate(&resource);
    if errors.is_empty() {
        Ok(resource)
    } else {
        Err(ManifestError::invalid(resource.key().to_string(), errors))
    }
}

/// Decodes one object into its typed form without validating its values. Unknown fields are an
/// error (a typo such as `spec.subnet` must not be dropped without a word).
pub fn decode(value: Value) -> Result<Resource, ManifestError> {
    let object = describe(&value);
    let field =
        |path: &str, message: String| ManifestError::invalid(object.clone(), vec![FieldError::new(path, message)]);
    let api_version = value.get("apiVersion").and_then(Value::as_str);
    let kind = value.get("kind").and_then(Value::as_str);
    let (Some(api_version), Some(kind_name)) = (api_version, kind) else {
        let missing = if api_version.is_none() { "apiVersion" } else { "kind" };
        return Err(field(
            missing,
            format!(
                "required; every object names its type, e.g. apiVersion: {} and kind: VirtualNetwork",
                crate::WEFT_API_VERSION
            ),
        ));
    };
    let Some(kind) = Kind::from_type(api_version, kind_name) else {
        let hint = match Kind::ALL.into_iter().find(|k| k.name() == kind_name) {
            Some(k) => format!("{kind_name} is served as apiVersion {}", k.api_version()),
            None => format!(
                "known kinds: {}",
                Kind::ALL
                    .map(|k| format!("{} ({})", k.name(), k.api_version()))
                    .join(", ")
            ),
        };
        return Err(field(
            "kind",
            format!("{api_version}/{kind_name} is not a kind Weft knows; {hint}"),
        ));
    };
    let resource = match kind {
        Kind::Namespace => Resource::Namespace(typed(&value, &object)?),
        Kind::Pod => Resource::Pod(typed(&value, &object)?),
        Kind::Service => Resource::Service(typed(&value, &object)?),
        Kind::NetworkPolicy => Resource::NetworkPolicy(typed(&value, &object)?),
        Kind::VirtualNetwork => Resource::VirtualNetwork(typed(&value, &object)?),
        Kind::Cluster => Resource::Cluster(typed(&value, &object)?),
        Kind::Node => Resource::Node(typed(&value, &object)?),
        Kind::WorkloadEndpoint => Resource::WorkloadEndpoint(typed(&value, &object)?),
        Kind::BGPPeer => Resource::BGPPeer(typed(&value, &object)?),
    };
    let mut unknown = Vec::new();
    unknown_fields(&value, &resource.to_value(), String::new(), &mut unknown);
    if unknown.is_empty() {
        Ok(resource)
    } else {
        let errors = unknown
            .into_iter()
            .map(|path| {
                FieldError::new(
                    path,
                    "unknown field; check its spelling and indentation against the kind's schema (docs/resources.md)",
                )
            })
            .collect();
        Err(ManifestError::invalid(object, errors))
    }
}

fn typed<T: DeserializeOwned>(value: &Value, object: &str) -> Result<T, ManifestError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ManifestError::invalid(
            object.to_string(),
            vec![FieldError::new(path, e.into_inner().to_string())],
        )
    })
}

/// `Kind/name` from an undecoded object, as far as it can be told.
fn describe(value: &Value) -> String {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("object");
    let meta = value.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("(no name)");
    match meta.and_then(|m| m.get("namespace")).and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Paths present in the input but absent after a typed round trip: the fields the schema lacks.
fn unknown_fields(input: &Value, output: &Value, path: String, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (key, value) in i {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match o.get(key) {
                    None if !value.is_null() && !is_empty(value) => out.push(child),
                    None => {}
                    Some(v) => unknown_fields(value, v, child, out),
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (index, (a, b)) in i.iter().zip(o).enumerate() {
                unknown_fields(a, b, format!("{path}[{index}]"), out);
            }
        }
        _ => {}
    }
}

/// Empty lists and maps that the typed form leaves out are not lost information.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
