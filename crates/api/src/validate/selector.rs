use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::Errors;
use super::meta::labels;
use super::names::{label_value, qualified_name};

/// A label selector (metav1.LabelSelector): valid keys and values, known operators, values
/// present exactly when the operator needs them.
pub(super) fn validate(selector: &LabelSelector, path: &str, errors: &mut Errors) {
    labels(selector.match_labels.as_ref(), &format!("{path}.matchLabels"), errors);
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        if let Err(e) = qualified_name(&req.key) {
            errors.push(format!("{at}.key"), e);
        }
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(
                format!("{at}.values"),
                format!("operator {} needs at least one value", req.operator),
            ),
            "In" | "NotIn" => {
                for (j, v) in values.iter().enumerate() {
                    if let Err(e) = label_value(v) {
                        errors.push(format!("{at}.values[{j}]"), e);
                    }
                }
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(
                format!("{at}.values"),
                format!("operator {} takes no values; remove them", req.operator),
            ),
            "Exists" | "DoesNotExist" => {}
            other => errors.push(
                format!("{at}.operator"),
                format!("{other:?} is not a valid operator; use In, NotIn, Exists or DoesNotExist"),
            ),
        }
    }
}
