//! Label selectors (metav1.LabelSelector) as the API defines them: `matchLabels` and
//! `matchExpressions` are ANDed; an empty selector selects everything; `NotIn` and
//! `DoesNotExist` also match objects without the key (apimachinery's `labels.Selector`).
//! Whether a selector is *absent* (as opposed to empty) is the caller's business: it means
//! different things for a policy's `podSelector` and a peer's selectors.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use weft_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::error::Problems;

/// Labels of a pod or namespace.
pub type Labels = BTreeMap<String, String>;

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

/// One requirement on one label key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
}

/// The four operators of metav1.LabelSelectorRequirement; `matchLabels` entries are `In` with
/// one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

impl Selector {
    /// `{}`: selects everything.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// `matchLabels` only, for callers and tests.
    pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Selector {
        Selector {
            requirements: pairs
                .into_iter()
                .map(|(k, v)| Requirement {
                    key: k.to_string(),
                    operator: Operator::In(BTreeSet::from([v.to_string()])),
                })
                .collect(),
        }
    }

    /// Reads a LabelSelector, refusing what the API server refuses: unknown operators, `In`
    /// and `NotIn` without values, `Exists` and `DoesNotExist` with values.
    pub(crate) fn parse(selector: &LabelSelector, path: &str, problems: &mut Problems) -> Selector {
        let mut requirements: Vec<Requirement> = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::In(BTreeSet::from([v.clone()])),
            })
            .collect();
        for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
            let at = format!("{path}.matchExpressions[{i}]");
            let values: BTreeSet<String> = expr.values.iter().flatten().cloned().collect();
            let operator = match expr.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => {
                    problems.push(
                        format!("{at}.values"),
                        format!("operator {} needs at least one value", expr.operator),
                    );
                    continue;
                }
                "In" => Operator::In(values),
                "NotIn" => Operator::NotIn(values),
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    problems.push(
                        format!("{at}.values"),
                        format!("operator {} takes no values; remove them", expr.operator),
                    );
                    continue;
                }
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    problems.push(
                        format!("{at}.operator"),
                        format!("{other:?} is not an operator; use In, NotIn, Exists or DoesNotExist"),
                    );
                    continue;
                }
            };
            requirements.push(Requirement {
                key: expr.key.clone(),
                operator,
            });
        }
        Selector { requirements }
    }

    /// True when the selector is `{}`.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match &self.operator {
            Operator::In(values) => value.is_some_and(|v| values.contains(v)),
            Operator::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// kubectl's notation: `app=web,tier notin (a,b),!debug`; `{}` for everything.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requirements.is_empty() {
            return f.write_str("{} (everything)");
        }
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |values: &BTreeSet<String>| values.iter().cloned().collect::<Vec<_>>().join(",");
        match &self.operator {
            Operator::In(values) if values.len() == 1 => write!(f, "{}={}", self.key, list(values)),
            Operator::In(values) => write!(f, "{} in ({})", self.key, list(values)),
            Operator::NotIn(values) => write!(f, "{} notin ({})", self.key, list(values)),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn expr(key: &str, op: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn parse(sel: LabelSelector) -> Result<Selector, Vec<String>> {
        let mut problems = Problems::default();
        let s = Selector::parse(&sel, "spec.podSelector", &mut problems);
        if problems.0.is_empty() {
            Ok(s)
        } else {
            Err(problems.0.iter().map(ToString::to_string).collect())
        }
    }

    #[test]
    fn empty_selects_everything() {
        let s = parse(LabelSelector::default()).unwrap();
        assert!(s.is_everything());
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn operators() {
        let sel = |e| {
            parse(LabelSelector {
                match_expressions: Some(vec![e]),
                ..Default::default()
            })
            .unwrap()
        };
        let none = labels(&[]);
        let web = labels(&[("app", "web")]);
        let db = labels(&[("app", "db")]);
        let in_ = sel(expr("app", "In", Some(&["web", "api"])));
        assert!(in_.matches(&web) && !in_.matches(&db) && !in_.matches(&none));
        let not_in = sel(expr("app", "NotIn", Some(&["web"])));
        assert!(!not_in.matches(&web) && not_in.matches(&db));
        assert!(not_in.matches(&none), "NotIn matches objects without the key");
        let exists = sel(expr("app", "Exists", None));
        assert!(exists.matches(&web) && !exists.matches(&none));
        let absent = sel(expr("app", "DoesNotExist", None));
        assert!(!absent.matches(&web) && absent.matches(&none));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = parse(LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![expr("tier", "Exists", None)]),
        })
        .unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "x")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("tier", "x")])));
        assert_eq!(s.to_string(), "app=web,tier");
    }

    #[test]
    fn invalid_expressions_are_refused_with_the_path() {
        let errors = parse(LabelSelector {
            match_expressions: Some(vec![
                expr("a", "In", Some(&[])),
                expr("b", "Exists", Some(&["x"])),
                expr("c", "Equals", Some(&["x"])),
            ]),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "spec.podSelector.matchExpressions[0].values: operator In needs at least one value",
                "spec.podSelector.matchExpressions[1].values: operator Exists takes no values; remove them",
                "spec.podSelector.matchExpressions[2].operator: \"Equals\" is not an operator; use In, NotIn, Exists or DoesNotExist",
            ]
        );
    }
}
